"""Monitors and monitor runs as stored, and the small conversions of their rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pmle._util import as_utc, utcnow
from pmle.errors import NotFound
from pmle.monitoring.sinks import sink_summary

if TYPE_CHECKING:
    from sqlalchemy import Connection


@dataclass(frozen=True)
class MonitorInfo:
    """A monitor as stored."""

    name: str
    description: str
    endpoint: str | None
    model: str  # NAME@VERSION
    config: dict[str, Any] = field(hash=False)
    baseline: dict[str, Any] = field(hash=False, repr=False)
    schedule: str | None
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def features(self) -> dict[str, str]:
        """Monitored feature → numeric | categorical."""
        return dict(self.config["features"])

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the baseline's histograms summarised)."""
        return {
            "name": self.name,
            "description": self.description,
            "endpoint": self.endpoint,
            "model": self.model,
            "objectives": self.config["objectives"],
            "features": self.config["features"],
            "thresholds": self.config["thresholds"],
            "defaultThreshold": self.config["default_threshold"],
            "samplingRate": self.config["sampling_rate"],
            "idField": self.config.get("id_field"),
            "performanceThreshold": self.config["performance_threshold"],
            "sinks": [sink_summary(s) for s in self.config["sinks"]],
            "baselineSource": self.baseline.get("source"),
            "schedule": self.schedule,
            "nextRunTime": self.next_run_at.isoformat() if self.next_run_at else None,
            "createTime": self.created_at.isoformat(),
            "updateTime": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class MonitorRun:
    """One run of a monitor."""

    id: int
    monitor: str
    state: str  # RUNNING | COMPLETE | FAILED
    source: str
    window_start: datetime | None
    window_end: datetime | None
    rows: int
    result: dict[str, Any] = field(hash=False, repr=False)
    report: str | None
    error: str | None
    started_at: datetime
    ended_at: datetime | None

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """The alerts this run raised (JSON forms)."""
        return list(self.result.get("alerts", []))

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the result with the run's facts (what reports and the CLI render)."""
        return {
            **self.result,
            "monitor": self.monitor,
            "run_id": self.id,
            "state": self.state,
            "source": self.source,
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "rows": self.rows,
            "report": self.report,
            "error": self.error,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


def iso(value: datetime | None) -> str | None:
    utc = as_utc(value)
    return utc.isoformat() if utc else None


def monitor_id(conn: Connection, name: str) -> int:
    import sqlalchemy as sa

    from pmle.storage import schema as t

    mid = conn.execute(sa.select(t.monitors.c.id).where(t.monitors.c.name == name)).scalar()
    if mid is None:
        raise NotFound(f"no monitor {name!r}")
    return int(mid)


def info_of(row: Any) -> MonitorInfo:
    return MonitorInfo(
        name=row.name,
        description=row.description,
        endpoint=row.endpoint,
        model=f"{row.model_name}@{row.model_version}",
        config=dict(row.config),
        baseline=dict(row.baseline),
        schedule=row.schedule,
        next_run_at=as_utc(row.next_run_at),
        created_at=as_utc(row.created_at) or utcnow(),
        updated_at=as_utc(row.updated_at) or utcnow(),
    )


def run_of(monitor: str, row: Any) -> MonitorRun:
    return MonitorRun(
        id=int(row.id),
        monitor=monitor,
        state=row.state,
        source=row.source,
        window_start=as_utc(row.window_start),
        window_end=as_utc(row.window_end),
        rows=int(row.rows),
        result=dict(row.result or {}),
        report=row.report,
        error=row.error,
        started_at=as_utc(row.started_at) or utcnow(),
        ended_at=as_utc(row.ended_at),
    )
