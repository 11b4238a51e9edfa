"""Pipeline schedules (`ws.pipeline_schedules`): runs of a pipeline at cron times and / or when a
monitor raises alerts (continuous training), with Vertex AI Pipelines schedules' semantics.

- Cron times (UTC; or `every N[s|m|h|d]`, see :mod:`pmle.pipelines.firings`) from `start`
  (default: creation) to `end`: a time after `end` never fires; one at or before it may start
  later while it waits for a slot.
- At most `max_runs` runs are started (`startedRunCount`), then the state is COMPLETED; so it
  is when `end` has passed and nothing due before it waits.
- At most `max_concurrent` runs of the schedule run at once (RUNNING `pipeline_runs` rows with
  its id, and runs this process is starting). A firing due while they do waits until a slot
  frees (Vertex's `allow_queueing`); it is not lost.
- Missed firings (no scheduler running, or waiting for a slot): with `catch_up` every one
  runs, oldest first, as slots allow; without it only the newest due one runs. Resuming a
  paused schedule without `catch_up` skips what fell in the pause: the next run is the first
  time after the resume (Vertex's `schedules.resume`); with it the paused times run too.
- With `monitor`, each batch of alerts newer than the last one acted on (`last_alert_id`)
  starts one run, triggered `alert #12 (drift monthly_charges)`; the run's parameters are the
  schedule's. Alerts that come while a run holds the last slot wait and make one batch;
  alerts raised while paused are skipped on resume unless `catch_up` (then: one batch).

`tick(now)` decides what is due and starts it without waiting for it: each firing is claimed
first by one conditional UPDATE (the cursor, the last alert id and the started count must be
what this scheduler read), so several schedulers on one workspace never start it twice; its
run is then started in a background thread by the `launcher`.
"""

from __future__ import annotations

import builtins
import logging
import os
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pmle._util import as_utc, check_name, utcnow
from pmle.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from pmle.pipelines.firings import first_firing, following, latest_due, next_after
from pmle.pipelines.schedule_records import (
    Launch,
    Launcher,
    PipelineSchedule,
    alert_trigger,
    check_pipeline,
    newest_alert_id,
    run_summary,
    schedule_of,
    stamp,
)

if TYPE_CHECKING:
    from sqlalchemy.sql import ColumnElement

    from pmle.workspace import Workspace

__all__ = ["Launch", "PipelineSchedule", "Schedules"]

log = logging.getLogger("pmle.pipelines.schedules")

STATES = ("ACTIVE", "PAUSED", "COMPLETED")
_TRIGGER_CHARS = 256  # pipeline_runs.trigger


class Schedules:
    """The pipeline schedules of a workspace. `launcher(launch)` starts a firing's run (called
    in a background thread); the default runs the pipeline with `ws.pipelines.run`."""

    def __init__(self, ws: Workspace, *, launcher: Launcher | None = None) -> None:
        self._ws = ws
        self._launcher = launcher or self._run_pipeline
        self._lock = threading.Lock()
        self._inflight: dict[int, dict[str, Launch]] = {}  # schedule id → trigger → launch

    # -- definition ---------------------------------------------------------------------------

    def create(
        self,
        name: str,
        source: str | os.PathLike[str],
        params: Mapping[str, Any] | None = None,
        *,
        cron: str | None = None,
        monitor: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        max_runs: int | None = None,
        max_concurrent: int = 1,
        catch_up: bool = False,
        no_cache: bool = False,
    ) -> PipelineSchedule:
        """A schedule running `source` (`FILE.py[:FUNC]` or `FILE.yaml`) with `params` at the
        times of `cron` and / or on new alerts of `monitor`. Everything is checked now: the
        schedule, the monitor, the times, the pipeline and its parameters' types."""
        import sqlalchemy as sa

        from pmle.monitoring.schedule import check_schedule
        from pmle.storage import schema as t

        check_name(name, "schedule name")
        if cron is None and monitor is None:
            raise InvalidInput(
                "a schedule needs a cron expression or a monitor to follow",
                hint="--cron '0 3 * * *' and / or --on-alert MONITOR",
            )
        _positive(max_runs, "max_runs", optional=True)
        _positive(max_concurrent, "max_concurrent")
        cron = check_schedule(cron) if cron is not None else None
        now = utcnow()
        start_at = _aware(start, "start") or now
        end_at = _aware(end, "end")
        if end_at is not None and end_at <= start_at:
            raise InvalidInput(
                f"the end {end_at.isoformat()} is not after the start {start_at.isoformat()}",
                hint="the end must come after the start (the creation time by default)",
            )
        next_at = first_firing(cron, start_at) if cron else None
        if next_at is not None and end_at is not None and next_at > end_at:
            if monitor is None:
                raise InvalidInput(f"{cron!r} never fires between the start and the end")
            next_at = None
        last_alert = None
        if monitor is not None:
            self._ws.monitors.get(monitor)  # NotFound, with the monitors there are
            with self._ws.engine.connect() as conn:
                last_alert = newest_alert_id(conn, monitor)
        resolved, arguments = check_pipeline(source, params or {})
        values = {
            "name": name,
            "source": resolved,
            "params": arguments,
            "cron": cron,
            "monitor": monitor,
            "last_alert_id": last_alert,
            "start_at": start_at,
            "end_at": end_at,
            "max_runs": max_runs,
            "max_concurrent": max_concurrent,
            "catch_up": bool(catch_up),
            "no_cache": bool(no_cache),
            "state": "ACTIVE",
            "next_run_at": next_at,
            "started_runs": 0,
            "created_at": now,
            "updated_at": now,
        }
        s = t.pipeline_schedules
        with self._ws.engine.begin() as conn:
            if conn.execute(sa.select(s.c.id).where(s.c.name == name)).first() is not None:
                raise AlreadyExists(
                    f"pipeline schedule {name!r} already exists",
                    hint=f"delete it first (pmle pipelines schedule delete {name}) or pick "
                    "another name",
                )
            conn.execute(s.insert().values(**values))
        return self.get(name)

    def get(self, name: str) -> PipelineSchedule:
        """A schedule by name; NotFound when there is none."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        s = t.pipeline_schedules
        with self._ws.engine.connect() as conn:
            row = conn.execute(sa.select(s).where(s.c.name == name)).first()
            if row is None:
                known = [r[0] for r in conn.execute(sa.select(s.c.name).order_by(s.c.name))]
                raise NotFound(
                    f"no pipeline schedule {name!r}",
                    hint=f"schedules: {', '.join(known)}" if known else "create one first",
                )
        return schedule_of(row)

    def list(self, state: str | None = None) -> builtins.list[PipelineSchedule]:
        """Every schedule (in `state` only, when given), by name."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        s = t.pipeline_schedules
        query = sa.select(s).order_by(s.c.name)
        if state is not None:
            if state not in STATES:
                raise InvalidInput(f"unknown state {state!r}", hint=f"one of {', '.join(STATES)}")
            query = query.where(s.c.state == state)
        with self._ws.engine.connect() as conn:
            return [schedule_of(r) for r in conn.execute(query)]

    def pause(self, name: str) -> PipelineSchedule:
        """Stop starting runs (runs already started go on)."""
        info = self.get(name)
        if info.state != "ACTIVE":
            raise Conflict(
                f"pipeline schedule {name!r} is {info.state}; only an ACTIVE one can be paused",
                hint=f"pmle pipelines schedule resume {name}" if info.state == "PAUSED" else None,
            )
        self._set_state(info, "PAUSED", {})
        return self.get(name)

    def resume(
        self, name: str, *, catch_up: bool | None = None, now: datetime | None = None
    ) -> PipelineSchedule:
        """Start runs again. Without catch-up (the schedule's setting unless `catch_up` says
        otherwise; given, it is stored) the next run is the first time after `now` and alerts
        raised while paused are skipped; with it, what was missed runs first."""
        info = self.get(name)
        if info.state != "PAUSED":
            raise Conflict(f"pipeline schedule {name!r} is {info.state}, not PAUSED")
        now = _aware(now, "now") or utcnow()
        values: dict[str, Any] = {}
        if catch_up is not None:
            values["catch_up"] = bool(catch_up)
        if not (info.catch_up if catch_up is None else catch_up):
            if info.cron and info.next_run_at is not None:
                nxt = next_after(info.cron, info.next_run_at, now)
                values["next_run_at"] = None if info.end_at and nxt > info.end_at else nxt
            if info.monitor is not None:
                with self._ws.engine.connect() as conn:
                    values["last_alert_id"] = newest_alert_id(conn, info.monitor)
        self._set_state(info, "ACTIVE", values)
        return self.get(name)

    def delete(self, name: str) -> None:
        """Delete a schedule; its runs (and any still running) are kept."""
        from pmle.storage import schema as t

        info = self.get(name)
        s = t.pipeline_schedules
        with self._ws.engine.begin() as conn:
            conn.execute(s.delete().where(s.c.id == info.id))

    def runs(self, name: str, limit: int | None = 20) -> builtins.list[dict[str, Any]]:
        """The schedule's runs, newest first: id, pipeline, state, trigger, times, error."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        info = self.get(name)
        r = t.pipeline_runs
        query = (
            sa.select(
                r.c.id, r.c.name, r.c.state, r.c.trigger, r.c.started_at, r.c.ended_at, r.c.error
            )
            .where(r.c.schedule_id == info.id, r.c.started_at >= info.created_at)
            .order_by(r.c.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self._ws.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [run_summary(row) for row in rows]

    def _set_state(self, info: PipelineSchedule, state: str, values: dict[str, Any]) -> None:
        from pmle.storage import schema as t

        s = t.pipeline_schedules
        with self._ws.engine.begin() as conn:
            changed = conn.execute(
                s.update()
                .where(s.c.id == info.id, s.c.state == info.state)
                .values(state=state, updated_at=utcnow(), **values)
            ).rowcount
        if changed != 1:
            raise Conflict(f"pipeline schedule {info.name!r} changed meanwhile", hint="try again")

    # -- firing -------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> builtins.list[Launch]:
        """Start every run that is due at `now` (default: the clock) and return the launches;
        their runs go on in background threads. A schedule that cannot be checked is logged
        and skipped; the others still fire."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        now = _aware(now, "now") or utcnow()
        s = t.pipeline_schedules
        with self._ws.engine.connect() as conn:
            rows = conn.execute(sa.select(s).where(s.c.state == "ACTIVE").order_by(s.c.id)).all()
        out: builtins.list[Launch] = []
        for row in rows:
            try:
                out += self._tick_one(row, now)
            except Exception as exc:  # a broken schedule must not stop the others
                log.warning("pipeline schedule %s could not fire: %s", row.name, exc)
        return out

    def launches(self) -> builtins.list[Launch]:
        """Launches of this process whose launcher has not returned yet."""
        with self._lock:
            return [x for group in self._inflight.values() for x in group.values()]

    def join(self, timeout: float | None = None) -> bool:
        """Wait for this process's launches to finish; False when `timeout` passed first."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        for launch in self.launches():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not launch.wait(left):
                return False
        return True

    def _tick_one(self, row: Any, now: datetime) -> builtins.list[Launch]:
        info = schedule_of(row)
        if now < info.start_at:
            return []
        seen, cursor, last_alert = info.started_runs, info.next_run_at, info.last_alert_id
        pending = self._new_alerts(info, last_alert) if info.monitor else []
        due = bool(info.cron) and cursor is not None and cursor <= now
        free = info.max_concurrent - self._running(info) if due or pending else 0
        out: builtins.list[Launch] = []

        def spent() -> bool:
            return info.max_runs is not None and seen >= info.max_runs

        while info.cron and cursor is not None and cursor <= now and free > 0 and not spent():
            bound = min(now, info.end_at) if info.end_at else now
            fire = cursor if info.catch_up else latest_due(info.cron, cursor, bound)
            nxt: datetime | None = following(info.cron, fire)
            if info.end_at is not None and nxt is not None and nxt > info.end_at:
                nxt = None
            exhausted = nxt is None and info.monitor is None
            if not self._claim(info, (seen, cursor, last_alert), now, exhausted, next_run_at=nxt):
                return out  # another scheduler took it
            out.append(self._start(info, f"schedule {stamp(fire)}", fire))
            seen, free, cursor = seen + 1, free - 1, nxt
        if pending and free > 0 and not spent():
            newest = pending[-1]
            ended = info.end_at is not None and now > info.end_at
            exhausted = ended and (not info.cron or cursor is None)
            if not self._claim(
                info, (seen, cursor, last_alert), now, exhausted, last_alert_id=newest.id
            ):
                return out
            out.append(self._start(info, alert_trigger(pending), as_utc(newest.created_at)))
            seen, last_alert, pending = seen + 1, newest.id, []
        cron_done = not info.cron or cursor is None
        alerts_done = not info.monitor or (info.end_at is not None and now > info.end_at)
        if not spent() and cron_done and alerts_done and not pending:
            self._claim(info, (seen, cursor, last_alert), now, True, count=False)
        return out

    def _claim(
        self,
        info: PipelineSchedule,
        seen: tuple[int, datetime | None, int | None],
        now: datetime,
        exhausted: bool,
        *,
        count: bool = True,
        **values: Any,
    ) -> bool:
        """Take one firing (or, with `count=False`, complete the schedule) in one conditional
        UPDATE, true only for the one scheduler that `seen` the row (started runs, cursor, last
        alert) as it still is; `values` move the cursor or the last alert on."""
        from pmle.storage import schema as t

        s = t.pipeline_schedules
        started, cursor, last_alert = seen
        if count:
            values.update(started_runs=started + 1, last_run_at=now)
            started += 1
        done = exhausted or (info.max_runs is not None and started >= info.max_runs)
        with self._ws.engine.begin() as conn:
            claimed = conn.execute(
                s.update()
                .where(
                    s.c.id == info.id,
                    s.c.state == "ACTIVE",
                    s.c.started_runs == seen[0],
                    _same(s.c.next_run_at, cursor),
                    _same(s.c.last_alert_id, last_alert),
                )
                .values(state="COMPLETED" if done else "ACTIVE", updated_at=utcnow(), **values)
            ).rowcount
        return bool(claimed == 1)

    def _running(self, info: PipelineSchedule) -> int:
        """Runs of the schedule going on: RUNNING records (of live processes, where that can
        be told) and this process's launches that have not recorded their run yet."""
        import sqlalchemy as sa

        from pmle._util import owner_alive
        from pmle.storage import schema as t

        r = t.pipeline_runs
        with self._ws.engine.connect() as conn:
            rows = conn.execute(
                sa.select(r.c.trigger, r.c.owner_host, r.c.owner_pid).where(
                    r.c.schedule_id == info.id,
                    r.c.state == "RUNNING",
                    r.c.started_at >= info.created_at,  # not a deleted namesake's (same id)
                )
            ).all()
        live = [row for row in rows if owner_alive(row.owner_host, row.owner_pid)]
        recorded = {row.trigger for row in live}
        with self._lock:
            ours = [x for x in self._inflight.get(info.id, {}) if x not in recorded]
        return len(live) + len(ours)

    def _new_alerts(self, info: PipelineSchedule, last: int | None) -> builtins.list[Any]:
        """Alerts of the monitor after `last`, raised between the start and the end."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        a, m = t.monitor_alerts, t.monitors
        query = (
            sa.select(a.c.id, a.c.objective, a.c.feature, a.c.created_at)
            .join(m, m.c.id == a.c.monitor_id)
            .where(m.c.name == info.monitor, a.c.id > (last or 0))
            .where(a.c.created_at >= info.start_at)
            .order_by(a.c.id)
        )
        if info.end_at is not None:
            query = query.where(a.c.created_at <= info.end_at)
        with self._ws.engine.connect() as conn:
            return list(conn.execute(query).all())

    # -- launching ----------------------------------------------------------------------------

    def _start(self, info: PipelineSchedule, trigger: str, at: datetime) -> Launch:
        launch = Launch(
            schedule=info.name,
            schedule_id=info.id,
            trigger=trigger[:_TRIGGER_CHARS],
            scheduled_at=at,
            source=info.source,
            params=dict(info.params),
            no_cache=info.no_cache,
        )
        with self._lock:
            self._inflight.setdefault(info.id, {})[launch.trigger] = launch
        log.debug("pipeline schedule %s: starting a run (%s)", info.name, launch.trigger)
        thread = threading.Thread(
            target=self._execute, args=(launch,), name=f"pmle-schedule-{info.name}"
        )
        try:
            thread.start()
        except RuntimeError as exc:  # no thread could be started: the firing is lost, said so
            self._finish(launch, f"could not start a thread: {exc}")
        return launch

    def _execute(self, launch: Launch) -> None:
        error = None
        try:
            launch.run = self._launcher(launch)
        except Exception as exc:  # the loop goes on; the launch says what happened
            error = str(exc) or type(exc).__name__
            log.warning(
                "pipeline schedule %s (%s) failed: %s", launch.schedule, launch.trigger, error
            )
        self._finish(launch, error)

    def _finish(self, launch: Launch, error: str | None) -> None:
        launch.error = error
        with self._lock:
            group = self._inflight.get(launch.schedule_id, {})
            if group.get(launch.trigger) is launch:
                del group[launch.trigger]
        launch._finished.set()
        run = launch.run
        if error is None and run is not None:
            log.info(
                "pipeline schedule %s run %s: %s",
                launch.schedule, getattr(run, "id", "?"), getattr(run, "state", "done"),
            )  # fmt: skip

    def _run_pipeline(self, launch: Launch) -> Any:
        return self._ws.pipelines.run(
            launch.source,
            launch.params,
            no_cache=launch.no_cache,
            schedule_id=launch.schedule_id,
            trigger=launch.trigger,
        )


# -- helpers ------------------------------------------------------------------------------------


def _positive(value: Any, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{what} must be a positive integer, got {value!r}")


def _aware(value: datetime | None, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidInput(f"{what} must be a datetime, got {value!r}")
    return as_utc(value)


def _same(column: Any, value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value
