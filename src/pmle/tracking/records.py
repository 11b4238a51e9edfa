"""What the tracking store hands back: experiments, runs and metric points (plain data)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

__all__ = ["ENDED", "STATUSES", "Experiment", "MetricPoint", "RunInfo"]

#: a run's status: RUNNING until it ends FINISHED, FAILED (an error, or its process died) or
#: KILLED (interrupted)
STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")
ENDED = frozenset({"FINISHED", "FAILED", "KILLED"})


@dataclass(frozen=True)
class Experiment:
    """A named group of runs."""

    id: int
    name: str
    description: str
    tags: dict[str, str]
    created_at: datetime
    run_count: int = 0
    last_run_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "tags": self.tags,
            "created_at": self.created_at.isoformat(),
            "run_count": self.run_count,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
        }


class MetricPoint(NamedTuple):
    """One logged value of a metric (a tuple: cheap to make by the thousand)."""

    step: int
    value: float
    timestamp: float


@dataclass
class RunInfo:
    """A run as stored: identity, status, and its parameters, tags and latest metrics."""

    id: int
    experiment: str
    name: str
    status: str
    started_at: datetime
    ended_at: datetime | None = None
    parent_id: int | None = None
    notes: str = ""
    error: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """How to name this run: `EXPERIMENT/RUN`."""
        return f"{self.experiment}/{self.name}"

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "experiment": self.experiment,
            "name": self.name,
            "status": self.status,
            "parent_id": self.parent_id,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "duration_s": self.duration_s,
            "notes": self.notes,
            "error": self.error,
            "params": self.params,
            "metrics": {k: (None if math.isnan(v) else v) for k, v in self.metrics.items()},
            "tags": self.tags,
            "artifacts": self.artifacts,
            "inputs": self.inputs,
        }
