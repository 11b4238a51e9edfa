"""Pipeline schedules as stored, one firing being started (:class:`Launch`), what names a
firing (its trigger text) and the checks of a schedule's pipeline."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pmle._util import as_utc, utcnow
from pmle.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from pmle.pipelines.runs import PipelineRun

__all__ = [
    "Launch",
    "Launcher",
    "PipelineSchedule",
    "alert_trigger",
    "check_pipeline",
    "newest_alert_id",
    "run_summary",
    "schedule_of",
    "stamp",
]

#: What starts a firing's run: called in a background thread; returns what it started.
Launcher = Callable[["Launch"], Any]


def _iso(value: datetime | None) -> str | None:
    utc = as_utc(value)
    return utc.isoformat() if utc is not None else None


@dataclass(frozen=True)
class PipelineSchedule:
    """A pipeline schedule as stored (Vertex AI's Schedule with a CreatePipelineJobRequest)."""

    id: int
    name: str
    source: str  # FILE.yaml | FILE.py[:FUNC], absolute
    params: dict[str, Any] = field(hash=False)
    cron: str | None
    monitor: str | None  # runs when this monitor raises alerts
    last_alert_id: int | None  # the newest alert already acted on
    start_at: datetime
    end_at: datetime | None
    max_runs: int | None
    max_concurrent: int
    catch_up: bool
    no_cache: bool
    state: str  # ACTIVE | PAUSED | COMPLETED
    next_run_at: datetime | None  # the oldest cron firing not started yet (past: waiting)
    last_run_at: datetime | None  # when the newest run was started
    started_runs: int
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON form (Vertex's field names where it has them)."""
        return {
            "name": self.name,
            "source": self.source,
            "params": self.params,
            "cron": self.cron,
            "monitor": self.monitor,
            "lastAlertId": self.last_alert_id,
            "startTime": _iso(self.start_at),
            "endTime": _iso(self.end_at),
            "maxRunCount": self.max_runs,
            "maxConcurrentRunCount": self.max_concurrent,
            "catchUp": self.catch_up,
            "noCache": self.no_cache,
            "state": self.state,
            "nextRunTime": _iso(self.next_run_at),
            "lastScheduledRunTime": _iso(self.last_run_at),
            "startedRunCount": self.started_runs,
            "createTime": _iso(self.created_at),
            "updateTime": _iso(self.updated_at),
        }


def schedule_of(row: Any) -> PipelineSchedule:
    created = as_utc(row.created_at) or utcnow()
    return PipelineSchedule(
        id=int(row.id),
        name=row.name,
        source=row.source,
        params=dict(row.params or {}),
        cron=row.cron,
        monitor=row.monitor,
        last_alert_id=row.last_alert_id,
        start_at=as_utc(row.start_at) or created,
        end_at=as_utc(row.end_at),
        max_runs=row.max_runs,
        max_concurrent=int(row.max_concurrent),
        catch_up=bool(row.catch_up),
        no_cache=bool(row.no_cache),
        state=row.state,
        next_run_at=as_utc(row.next_run_at),
        last_run_at=as_utc(row.last_run_at),
        started_runs=int(row.started_runs),
        created_at=created,
        updated_at=as_utc(row.updated_at) or created,
    )


@dataclass(eq=False)
class Launch:
    """One firing of a schedule, started in a background thread: `run` is what the launcher
    returned (a :class:`~pmle.pipelines.runs.PipelineRun` by default) once it is `done`,
    `error` what stopped it."""

    schedule: str
    schedule_id: int
    trigger: str  # "cron 2026-01-01T10:00:00+00:00" | "alert #12 (drift x)"
    scheduled_at: datetime  # the cron time, or when the newest alert was raised
    source: str
    params: dict[str, Any] = field(repr=False)
    no_cache: bool
    run: PipelineRun | Any = None
    error: str | None = None
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def done(self) -> bool:
        """Whether the launcher returned (or raised)."""
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until done; False when `timeout` seconds passed first."""
        return self._finished.wait(timeout)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        run = self.run
        return {
            "schedule": self.schedule,
            "trigger": self.trigger,
            "scheduledTime": self.scheduled_at.isoformat(),
            "done": self.done,
            "runId": getattr(run, "id", None),
            "state": getattr(run, "state", None),
            "error": self.error,
        }


def run_summary(row: Any) -> dict[str, Any]:
    """A schedule's pipeline run as `Schedules.runs` lists it."""
    return {
        "id": row.id,
        "pipeline": row.name,
        "state": row.state,
        "trigger": row.trigger,
        "startTime": _iso(row.started_at),
        "endTime": _iso(row.ended_at),
        "error": row.error,
    }


def newest_alert_id(conn: Connection, monitor: str) -> int:
    """The id of the monitor's newest alert (0 when it has none)."""
    import sqlalchemy as sa

    from pmle.storage import schema as t

    a, m = t.monitor_alerts, t.monitors
    newest = conn.execute(
        sa.select(sa.func.max(a.c.id)).join(m, m.c.id == a.c.monitor_id).where(m.c.name == monitor)
    ).scalar()
    return int(newest or 0)


def stamp(at: datetime) -> str:
    """A firing time as a trigger shows it: `2026-01-01T10:00:00Z`."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def alert_trigger(alerts: list[Any]) -> str:
    """`alert #12 (drift x)`, with `and N more` for a batch."""
    first = alerts[0]
    text = f"alert #{first.id} ({first.objective} {first.feature})"
    return text if len(alerts) == 1 else f"{text} and {len(alerts) - 1} more"


def check_pipeline(source: str | os.PathLike[str], params: Mapping[str, Any]) -> tuple[str, dict]:
    """The source with an absolute path (schedulers run from anywhere) and the parameters
    typed as a run would type them; InvalidInput when either would fail a run."""
    from pmle.pipelines.bindings import parse_arguments
    from pmle.pipelines.compile import load_any, split_spec
    from pmle.pipelines.runs import parse_params
    from pmle.pipelines.support import check_supported

    if not isinstance(params, Mapping):
        raise InvalidInput(f"params must be a mapping of pipeline inputs, got {params!r}")
    path, func = split_spec(str(source))
    resolved = str(path.expanduser().resolve()) + (f":{func}" if func else "")
    spec = load_any(resolved)
    arguments = parse_params(spec, params)
    check_supported(spec)
    parse_arguments(spec, arguments)
    try:
        return resolved, json.loads(json.dumps(arguments))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"the parameters must be JSON values: {exc}") from None
