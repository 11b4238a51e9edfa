"""The bookkeeping of monitor runs in the metadata store: one RUNNING run at a time, results,
the previous windows, alerts with their deliveries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pmle._util import as_utc, utcnow
from pmle.errors import InvalidInput
from pmle.monitoring.records import monitor_id
from pmle.monitoring.sinks import build_sink

if TYPE_CHECKING:
    from pmle.monitoring.alerts import Alert
    from pmle.monitoring.records import MonitorInfo
    from pmle.workspace import Workspace

#: A run still RUNNING after this long was left by a process that stopped.
STALE_RUN_S = 3600.0


def newest_run_id(ws: Workspace, monitor_id: int) -> int | None:
    import sqlalchemy as sa

    from pmle.storage import schema as t

    r = t.monitor_runs
    with ws.engine.connect() as conn:
        value = conn.execute(
            sa.select(sa.func.max(r.c.id)).where(r.c.monitor_id == monitor_id)
        ).scalar()
    return None if value is None else int(value)


def start_run(ws: Workspace, info: MonitorInfo, kind: str) -> int:
    """Record a RUNNING run — unless another run of the monitor is in progress (one run
    at a time, so windows never overlap). Runs left RUNNING for STALE_RUN_S (a crashed
    process) are marked FAILED first."""
    import sqlalchemy as sa

    from pmle.storage import schema as t

    r = t.monitor_runs
    now = utcnow()
    with ws.engine.begin() as conn:
        mid = monitor_id(conn, info.name)
        conn.execute(
            r.update()
            .where(
                r.c.monitor_id == mid,
                r.c.state == "RUNNING",
                r.c.started_at < now - timedelta(seconds=STALE_RUN_S),
            )
            .values(state="FAILED", error="abandoned: the process running it stopped")
        )
        busy = conn.execute(
            sa.select(r.c.id).where(r.c.monitor_id == mid, r.c.state == "RUNNING")
        ).first()
        if busy is not None:
            raise InvalidInput(
                f"monitor {info.name!r} is running already (run {busy[0]})",
                hint="wait for it to finish",
            )
        inserted = conn.execute(
            r.insert().values(
                monitor_id=mid,
                state="RUNNING",
                kind=kind,
                source="",
                rows=0,
                result={},
                histograms={},
                started_at=now,
            )
        ).inserted_primary_key
        assert inserted is not None
        return int(inserted[0])


def finish_run(ws: Workspace, run_id: int, *, ended: bool = True, **values: Any) -> None:
    from pmle.storage import schema as t

    if ended:
        values["ended_at"] = utcnow()
    with ws.engine.begin() as conn:
        conn.execute(t.monitor_runs.update().where(t.monitor_runs.c.id == run_id).values(**values))


def previous_run(ws: Workspace, info: MonitorInfo, run_id: int, *, endpoint_only: bool) -> Any:
    """The newest earlier COMPLETE run with rows (its histograms are the drift baseline):
    of the log for log runs, of given data for data runs."""
    import sqlalchemy as sa

    from pmle.storage import schema as t

    r = t.monitor_runs
    with ws.engine.connect() as conn:
        mid = monitor_id(conn, info.name)
        q = sa.select(r).where(
            r.c.monitor_id == mid, r.c.id < run_id, r.c.state == "COMPLETE", r.c.rows > 0
        )
        q = q.where(r.c.kind != "data") if endpoint_only else q.where(r.c.kind == "data")
        return conn.execute(q.order_by(r.c.id.desc()).limit(1)).first()


def last_window_end(ws: Workspace, info: MonitorInfo) -> datetime | None:
    """Where the next continuous window starts: the end of the previous one."""
    import sqlalchemy as sa

    from pmle.storage import schema as t

    r = t.monitor_runs
    with ws.engine.connect() as conn:
        mid = monitor_id(conn, info.name)
        value = conn.execute(
            sa.select(sa.func.max(r.c.window_end)).where(
                r.c.monitor_id == mid, r.c.state == "COMPLETE", r.c.kind == "continuous"
            )
        ).scalar()
    return as_utc(value)


def record_alerts(
    ws: Workspace, info: MonitorInfo, run_id: int, alerts: list[Alert]
) -> list[dict[str, Any]]:
    from pmle.monitoring.alerts import deliver
    from pmle.storage import schema as t

    deliveries = deliver(alerts, [build_sink(s, ws) for s in info.config["sinks"]])
    shipped = [{"sink": d.sink, "ok": d.ok, "error": d.error} for d in deliveries]
    now = utcnow()
    with ws.engine.begin() as conn:
        mid = monitor_id(conn, info.name)
        for a in alerts:
            conn.execute(
                t.monitor_alerts.insert().values(
                    monitor_id=mid,
                    run_id=run_id,
                    objective=a.objective,
                    feature=a.feature,
                    metric=a.metric,
                    value=float(a.value),
                    threshold=float(a.threshold),
                    deliveries=shipped,
                    created_at=now,
                )
            )
    return shipped


def summaries(ws: Workspace) -> list[dict[str, Any]]:
    """Every monitor with its newest run and alert count, in three queries."""
    import sqlalchemy as sa

    from pmle.storage import schema as t

    m, r, a = t.monitors, t.monitor_runs, t.monitor_alerts
    with ws.engine.connect() as conn:
        monitors = conn.execute(
            sa.select(
                m.c.id,
                m.c.name,
                m.c.description,
                m.c.endpoint,
                m.c.model_name,
                m.c.model_version,
                m.c.config,
                m.c.schedule,
                m.c.next_run_at,
                m.c.created_at,
            ).order_by(m.c.name)
        ).all()
        newest = sa.select(sa.func.max(r.c.id)).group_by(r.c.monitor_id).scalar_subquery()
        last = {
            row.monitor_id: row
            for row in conn.execute(
                sa.select(
                    r.c.id, r.c.monitor_id, r.c.state, r.c.rows, r.c.started_at, r.c.ended_at
                ).where(r.c.id.in_(newest))
            )
        }
        counts: dict[int, int] = dict(
            conn.execute(sa.select(a.c.monitor_id, sa.func.count()).group_by(a.c.monitor_id)).all()
        )
    out = []
    for row in monitors:
        run = last.get(row.id)
        config = dict(row.config or {})
        out.append(
            {
                "name": row.name,
                "description": row.description,
                "endpoint": row.endpoint,
                "model": f"{row.model_name}@{row.model_version}",
                "objectives": list(config.get("objectives", [])),
                "features": len(config.get("features", {})),
                "schedule": row.schedule,
                "next_run_at": as_utc(row.next_run_at),
                "created_at": as_utc(row.created_at),
                "last_run": None
                if run is None
                else {
                    "id": int(run.id),
                    "state": run.state,
                    "rows": int(run.rows),
                    "started_at": as_utc(run.started_at),
                    "ended_at": as_utc(run.ended_at),
                },
                "alerts": int(counts.get(row.id, 0)),
            }
        )
    return out
