"""Pipeline schedules on a real workspace: cron firings between start and end, max runs, max
concurrent runs, catch-up, pause / resume, claims by several schedulers, monitor-alert
triggers, and real runs started by the default launcher."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pmle.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from pmle.pipelines.schedules import Launch, Schedules
from pmle.workspace import Workspace, open_workspace

pytest.importorskip("kfp")

SOURCE = """
from kfp import dsl


@dsl.component(base_image="python:3.11")
def add(a: int, b: int) -> int:
    return a + b


@dsl.pipeline(name="scheduled")
def scheduled(a: int, b: int = 1) -> int:
    return add(a=a, b=b).output
"""


def at(hour: int, minute: int = 0, second: int = 0, day: int = 1) -> datetime:
    return datetime(2030, 1, day, hour, minute, second, tzinfo=UTC)


class Gate:
    """A launcher that records its launches and holds each until released."""

    def __init__(self, *, hold: bool = False) -> None:
        self.launches: list[Launch] = []
        self.open = threading.Event()
        if not hold:
            self.open.set()

    def __call__(self, launch: Launch) -> str:
        self.launches.append(launch)
        assert self.open.wait(30), "the test never released its launches"
        return f"ran {launch.trigger}"

    def release(self) -> None:
        self.open.set()
        for launch in self.launches:
            assert launch.wait(10)


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    path = tmp_path / "scheduled.py"
    path.write_text(SOURCE)
    return path


@pytest.fixture
def gates() -> Iterator[list[Gate]]:
    """Every gate made in a test is released at its end (no thread outlives it)."""
    made: list[Gate] = []
    yield made
    for gate in made:
        gate.release()


@pytest.fixture
def make(ws: Workspace, gates: list[Gate]) -> Any:
    """`make(hold=False)` → (Schedules with a Gate launcher, the gate)."""

    def build(*, hold: bool = False, workspace: Workspace | None = None) -> tuple[Schedules, Gate]:
        gate = Gate(hold=hold)
        gates.append(gate)
        return Schedules(workspace or ws, launcher=gate), gate

    return build


def triggers(launches: list[Launch]) -> list[str]:
    return [launch.trigger for launch in launches]


def hourly(s: Schedules, pipeline: Path, name: str = "hourly", **kw: Any) -> Any:
    kw.setdefault("start", at(0))
    return s.create(name, pipeline, {"a": "2"}, cron="0 * * * *", **kw)


# -- definition -------------------------------------------------------------------------------


def test_create_stores_a_checked_schedule(ws: Workspace, pipeline: Path) -> None:
    info = ws.pipeline_schedules.create(
        "nightly", pipeline, {"a": "5"}, cron="0  3 * * *", start=at(0), max_runs=3
    )
    assert info.cron == "0 3 * * *" and info.params == {"a": 5}  # typed as the run types it
    assert info.source == str(pipeline.resolve()) and info.state == "ACTIVE"
    assert info.next_run_at == at(3) and info.started_runs == 0 and info.max_concurrent == 1
    assert ws.pipeline_schedules.get("nightly") == info
    assert [s.name for s in ws.pipeline_schedules.list()] == ["nightly"]
    assert ws.pipeline_schedules.list("PAUSED") == []
    d = info.to_dict()
    assert d["maxRunCount"] == 3 and d["nextRunTime"] == "2030-01-01T03:00:00+00:00"
    ws.pipeline_schedules.delete("nightly")
    with pytest.raises(NotFound, match="no pipeline schedule 'nightly'"):
        ws.pipeline_schedules.get("nightly")


def test_bad_schedules_are_clear_errors(ws: Workspace, pipeline: Path) -> None:
    s = ws.pipeline_schedules
    with pytest.raises(InvalidInput, match="invalid schedule 'every tuesday'"):
        s.create("x", pipeline, {"a": 1}, cron="every tuesday")
    with pytest.raises(InvalidInput, match="invalid schedule"):
        s.create("x", pipeline, {"a": 1}, cron="61 * * * *")
    with pytest.raises(NotFound, match="no monitor 'nope'"):
        s.create("x", pipeline, {"a": 1}, monitor="nope")
    with pytest.raises(InvalidInput, match="cron expression or a monitor"):
        s.create("x", pipeline, {"a": 1})
    with pytest.raises(InvalidInput, match=r"pipeline input 'a' \(NUMBER_INTEGER\) is required"):
        s.create("x", pipeline, {}, cron="0 * * * *")
    with pytest.raises(InvalidInput, match="cannot read pipeline input 'a'"):
        s.create("x", pipeline, {"a": "many"}, cron="0 * * * *")
    with pytest.raises(InvalidInput, match="must be an integer, got \\[1\\]"):
        s.create("x", pipeline, {"a": [1]}, cron="0 * * * *")
    with pytest.raises(InvalidInput, match="has no inputs"):
        s.create("x", pipeline, {"a": 1, "zzz": 2}, cron="0 * * * *")
    with pytest.raises(InvalidInput, match="is not after the start"):
        s.create("x", pipeline, {"a": 1}, cron="0 * * * *", start=at(5), end=at(4))
    with pytest.raises(InvalidInput, match="never fires between"):
        s.create("x", pipeline, {"a": 1}, cron="0 * * * *", start=at(5, 1), end=at(5, 59))
    with pytest.raises(InvalidInput, match="max_runs must be a positive integer"):
        s.create("x", pipeline, {"a": 1}, cron="0 * * * *", max_runs=0)
    with pytest.raises(InvalidInput, match="max_concurrent must be a positive integer"):
        s.create("x", pipeline, {"a": 1}, cron="0 * * * *", max_concurrent=True)
    with pytest.raises(InvalidInput, match="no pipeline file"):
        s.create("x", pipeline.with_name("missing.py"), {"a": 1}, cron="0 * * * *")
    with pytest.raises(InvalidInput, match="invalid schedule name"):
        s.create("no spaces", pipeline, {"a": 1}, cron="0 * * * *")
    assert s.list() == []  # nothing was stored on the way
    s.create("x", pipeline, {"a": 1}, cron="0 * * * *")
    with pytest.raises(AlreadyExists, match="already exists"):
        s.create("x", pipeline, {"a": 1}, cron="0 * * * *")


# -- cron firings -----------------------------------------------------------------------------


def test_fires_at_cron_times_from_start_to_end(make: Any, pipeline: Path) -> None:
    s, gate = make()
    hourly(s, pipeline, end=at(2, 30))
    assert s.tick(at(0) - timedelta(seconds=1)) == []  # before the start
    first = s.tick(at(0))
    assert triggers(first) == ["schedule 2030-01-01T00:00:00Z"]
    assert first[0].scheduled_at == at(0) and first[0].params == {"a": 2}
    assert first[0].wait(10) and first[0].run == "ran schedule 2030-01-01T00:00:00Z"
    assert s.tick(at(0, 30)) == [] and s.tick(at(0)) == []  # claimed: never twice
    assert triggers(s.tick(at(1, 0, 5))) == ["schedule 2030-01-01T01:00:00Z"]
    gate.release()
    assert triggers(s.tick(at(2))) == ["schedule 2030-01-01T02:00:00Z"]
    info = s.get("hourly")  # 03:00 is after the end: nothing is left to run
    assert info.state == "COMPLETED" and info.next_run_at is None and info.started_runs == 3
    assert info.last_run_at == at(2)
    assert s.tick(at(3)) == [] and s.tick(at(5)) == []


def test_completes_after_max_runs(make: Any, pipeline: Path) -> None:
    s, gate = make()
    hourly(s, pipeline, max_runs=2)
    assert len(s.tick(at(0))) == 1
    gate.release()
    assert len(s.tick(at(1))) == 1
    info = s.get("hourly")
    assert info.state == "COMPLETED" and info.started_runs == 2
    gate.release()
    assert s.tick(at(2)) == []


def test_a_firing_waits_while_max_concurrent_runs_go_on(make: Any, pipeline: Path) -> None:
    s, gate = make(hold=True)
    hourly(s, pipeline)
    assert len(s.tick(at(0))) == 1
    assert s.tick(at(1)) == []  # the 00:00 run still runs: 01:00 waits
    assert s.tick(at(1, 30)) == []
    assert s.get("hourly").next_run_at == at(1)  # not lost
    gate.release()
    assert triggers(s.tick(at(1, 45))) == ["schedule 2030-01-01T01:00:00Z"]
    assert s.get("hourly").next_run_at == at(2)

    s.delete("hourly")
    s2, gate2 = make(hold=True)
    hourly(s2, pipeline, name="pair", max_concurrent=2)
    assert len(s2.tick(at(0))) == 1 and len(s2.tick(at(1))) == 1
    assert s2.tick(at(2)) == []
    assert s2.get("pair").started_runs == 2
    gate2.release()
    assert len(s2.tick(at(2))) == 1


def test_running_pipeline_runs_of_the_schedule_hold_slots(
    make: Any, pipeline: Path, ws: Workspace
) -> None:
    """Runs recorded RUNNING with the schedule's id count, whoever started them."""
    from pmle.storage import schema as t

    s, _ = make()
    info = hourly(s, pipeline)
    row = {
        "name": "scheduled", "run_name": "scheduled-1", "source": str(pipeline), "params": {},
        "result": {}, "root_dir": "", "schedule_id": info.id, "trigger": "elsewhere",
        "started_at": datetime.now(UTC), "state": "RUNNING",
    }  # fmt: skip
    with ws.engine.begin() as conn:
        run_id = conn.execute(t.pipeline_runs.insert().values(**row)).inserted_primary_key[0]
    assert s.tick(at(0)) == []
    with ws.engine.begin() as conn:
        conn.execute(
            t.pipeline_runs.update().where(t.pipeline_runs.c.id == run_id).values(state="FAILED")
        )
    assert len(s.tick(at(0))) == 1


def test_catch_up_runs_every_missed_time_else_only_the_newest(make: Any, pipeline: Path) -> None:
    s, gate = make()
    hourly(s, pipeline, name="all", catch_up=True, max_concurrent=5)
    hourly(s, pipeline, name="newest")
    assert len(s.tick(at(0))) == 2
    gate.release()
    later = s.tick(at(3, 30))  # the scheduler was down from 00:00 to 03:30
    by_schedule = {
        n: [x.trigger[-9:-4] for x in later if x.schedule == n] for n in ("all", "newest")
    }
    assert by_schedule == {"all": ["01:00", "02:00", "03:00"], "newest": ["03:00"]}
    assert s.get("all").next_run_at == at(4) == s.get("newest").next_run_at
    assert s.get("all").started_runs == 4 and s.get("newest").started_runs == 2


def test_catch_up_respects_max_concurrent(make: Any, pipeline: Path) -> None:
    s, gate = make(hold=True)
    hourly(s, pipeline, catch_up=True)
    assert len(s.tick(at(0))) == 1
    assert s.tick(at(3, 30)) == []
    gate.release()
    assert triggers(s.tick(at(3, 30))) == ["schedule 2030-01-01T01:00:00Z"]
    gate.release()
    assert triggers(s.tick(at(3, 31))) == ["schedule 2030-01-01T02:00:00Z"]


def test_pause_and_resume(make: Any, pipeline: Path) -> None:
    s, gate = make()
    hourly(s, pipeline, name="skip")
    hourly(s, pipeline, name="fill")
    assert len(s.tick(at(0))) == 2
    assert s.pause("skip").state == "PAUSED" and s.pause("fill").state == "PAUSED"
    with pytest.raises(Conflict, match="only an ACTIVE one"):
        s.pause("skip")
    s.resume("skip", now=at(2, 30))
    with pytest.raises(Conflict, match="not PAUSED"):
        s.resume("skip")
    gate.release()
    assert s.tick(at(2, 30)) == []  # resumed without catch-up: the next time after resuming
    assert s.get("skip").next_run_at == at(3)
    resumed = s.resume("fill", catch_up=True, now=at(2, 30))
    assert resumed.catch_up and resumed.next_run_at == at(1)
    assert [x.trigger[-9:-4] for x in s.tick(at(2, 30))] == ["01:00"]  # one slot: one by one
    gate.release()
    assert [x.trigger[-9:-4] for x in s.tick(at(2, 31))] == ["02:00"]
    gate.release()
    assert {x.schedule for x in s.tick(at(3))} == {"skip", "fill"}


def test_two_schedulers_start_each_firing_once(
    make: Any, pipeline: Path, ws: Workspace, gates: list[Gate]
) -> None:
    s1, _ = make()
    other = open_workspace(ws.root)  # another engine, as another process has
    s2, _ = make(workspace=other)
    hourly(s1, pipeline, catch_up=True, max_concurrent=100, end=at(23, 0, 0, day=2))
    results: list[list[Launch]] = [[], []]

    def loop(i: int, s: Schedules) -> None:
        for hour in range(0, 48):
            results[i] += s.tick(at(0) + timedelta(hours=hour))

    threads = [threading.Thread(target=loop, args=(i, s)) for i, s in enumerate((s1, s2))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    started = triggers(results[0] + results[1])
    assert len(started) == 48 and len(set(started)) == 48  # 00:00 on the 1st to 23:00 on the 2nd
    assert s1.get("hourly").started_runs == 48 and s1.get("hourly").state == "COMPLETED"
    assert s2.join(10)
    other.close()


def test_a_stale_scheduler_loses_the_claim(make: Any, pipeline: Path) -> None:
    """The claim is a conditional UPDATE: a scheduler that read the row before another one
    claimed the firing starts nothing."""
    import sqlalchemy as sa

    from pmle.storage import schema as t

    s1, _ = make()
    s2, _ = make()
    hourly(s1, pipeline)
    with s2._ws.engine.connect() as conn:
        stale = conn.execute(sa.select(t.pipeline_schedules)).one()
    assert len(s1.tick(at(0))) == 1
    assert s2._tick_one(stale, at(0)) == []
    assert s1.get("hourly").started_runs == 1


# -- alerts -----------------------------------------------------------------------------------


def _drifted(table: pd.DataFrame, tmp_path: Path, name: str) -> str:
    out = table.copy()
    out["x"] = out["x"] + 3.0
    out["c"] = np.where(np.arange(len(out)) % 10 < 8, "blue", out["c"])
    path = tmp_path / f"{name}.parquet"
    out.to_parquet(path)
    return str(path)


def test_new_alerts_start_one_run_per_batch(
    monitored: Workspace, table: pd.DataFrame, pipeline: Path, tmp_path: Path, make: Any
) -> None:
    monitored.monitors.create("m", model="churn@1", schedule=None)
    monitored.monitors.run("m", data=_drifted(table, tmp_path, "old"), report=False)
    s, gate = make(hold=True)
    info = s.create("retrain", pipeline, {"a": 1}, monitor="m")
    assert info.last_alert_id == 2 and info.next_run_at is None  # older alerts never count
    assert s.tick() == []
    run = monitored.monitors.run("m", data=_drifted(table, tmp_path, "new"), report=False)
    launched = s.tick()
    assert len(run.alerts) == 2
    assert triggers(launched) == ["alert #3 (skew x) and 1 more"]
    assert launched[0].params == {"a": 1} and s.tick() == []
    monitored.monitors.run("m", data=_drifted(table, tmp_path, "more"), report=False)
    assert s.tick() == []  # one run of the schedule is running: the batch waits
    monitored.monitors.run("m", data=_drifted(table, tmp_path, "most"), report=False)
    gate.release()
    assert triggers(s.tick()) == ["alert #5 (skew x) and 3 more"]  # both waiting batches: one run
    gate.release()
    assert s.tick() == []
    info = s.get("retrain")
    assert info.last_alert_id == 8 and info.started_runs == 2 and info.state == "ACTIVE"
    s.pause("retrain")
    monitored.monitors.run("m", data=_drifted(table, tmp_path, "paused"), report=False)
    s.resume("retrain")  # without catch-up: alerts raised while paused are skipped
    assert s.tick() == [] and s.get("retrain").last_alert_id == 10


# -- real runs --------------------------------------------------------------------------------


def test_the_default_launcher_runs_the_pipeline(ws: Workspace, pipeline: Path) -> None:
    s = ws.pipeline_schedules
    s.create("real", pipeline, {"a": "40", "b": "2"}, cron="* * * * *", start=at(0))
    pipeline.with_name("gone.py").write_text(SOURCE)
    s.create("broken", pipeline.with_name("gone.py"), {"a": 1}, cron="* * * * *", start=at(0))
    pipeline.with_name("gone.py").unlink()  # its runs fail to start; the others still run
    launched = s.tick(at(0))
    assert {x.schedule for x in launched} == {"real", "broken"}
    assert s.join(60)
    by_name = {x.schedule: x for x in launched}
    assert by_name["broken"].run is None and "no pipeline file" in str(by_name["broken"].error)
    run = by_name["real"].run
    assert by_name["real"].error is None and run.state == "SUCCEEDED"
    assert run.result["outputs"]["parameters"] == {"Output": 42}
    assert s.runs("real") == [
        {
            "id": run.id,
            "pipeline": "scheduled",
            "state": "SUCCEEDED",
            "trigger": "schedule 2030-01-01T00:00:00Z",
            "startTime": run.started_at.isoformat(),
            "endTime": run.ended_at.isoformat(),
            "error": None,
        }
    ]
    assert s.runs("broken") == []


def test_a_server_with_monitors_starts_scheduled_runs(
    ws: Workspace, pipeline: Path, run_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pmle serve --monitors` ticks pipeline schedules in its scheduler loop."""
    from pmle.server import state
    from pmle.server.app import PmleApp

    monkeypatch.setattr(state, "MONITOR_CHECK_S", 0.2)
    ws.pipeline_schedules.create("served", pipeline, {"a": 1}, cron="every 1s", max_runs=1)
    with run_app(PmleApp(ws, poll_s=0.1, run_monitors=True)):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            runs = ws.pipeline_schedules.runs("served")
            if runs and runs[0]["state"] != "RUNNING":
                break
            time.sleep(0.1)
        assert ws.pipeline_schedules.join(30)
    assert [r["state"] for r in runs] == ["SUCCEEDED"]
    assert ws.pipeline_schedules.get("served").state == "COMPLETED"
