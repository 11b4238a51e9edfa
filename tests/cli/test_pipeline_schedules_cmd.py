"""`pmle pipelines schedule …` and `pmle scheduler` starting scheduled pipeline runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from pmle.cli import _common
from pmle.cli.app import app
from pmle.cli.pipeline_schedules_cmd import schedule_app
from pmle.workspace import Workspace

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

runner = CliRunner()
# As `pmle pipelines schedule …` (registered by pipelines_cmd), without depending on it here.
cli = typer.Typer()
cli.add_typer(schedule_app, name="schedule")


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    path = tmp_path / "scheduled.py"
    path.write_text(SOURCE)
    return path


@pytest.fixture
def sched(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(_common.state, "workspace", str(ws.root))

    def invoke(*args: str) -> Any:
        return runner.invoke(cli, ["schedule", *args])

    return invoke


def test_schedule_lifecycle(sched: Any, pipeline: Path) -> None:
    res = sched(
        "create", "nightly", str(pipeline), "-p", "a=2", "--param", "b=3",
        "--cron", "0 3 * * *", "--start", "2030-01-01T00:00", "--end", "2030-02-01T00:00",
        "--max-runs", "5", "--max-concurrent", "2", "--no-cache",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())  # as rich wrapped it at 80 columns
    assert "created pipeline schedule nightly" in text
    assert "cron 0 3 * * * (next 2030-01-01 03:00:00)" in text
    assert "from 2030-01-01 00:00:00 to 2030-02-01 00:00:00 UTC" in text
    assert "runs started 0 of 5; at most 2 at once; catch-up off; no cache" in text
    res = sched(
        "create", "hourly", str(pipeline), "-p", "a=1", "--cron", "every 1h", "--catch-up",
        "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    created = json.loads(res.output)
    assert created["cron"] == "every 1h" and created["catchUp"] and created["params"] == {"a": 1}

    res = sched("list")
    assert res.exit_code == 0 and "nightly" in res.output and "every 1h" in res.output
    listed = json.loads(sched("list", "--json").output)
    assert [s["name"] for s in listed] == ["hourly", "nightly"]
    described = json.loads(sched("describe", "nightly", "--json").output)
    assert described["params"] == {"a": 2, "b": 3} and described["maxConcurrentRunCount"] == 2
    assert described["endTime"] == "2030-02-01T00:00:00+00:00" and described["runs"] == []
    res = sched("describe", "nightly")
    assert res.exit_code == 0 and "no runs yet" in res.output and "params: a=2, b=3" in res.output

    res = sched("pause", "nightly")
    assert res.exit_code == 0 and "paused pipeline schedule nightly" in res.output
    assert "PAUSED" in sched("list").output
    again = sched("pause", "nightly")
    assert again.exit_code == 2 and "only an ACTIVE one can be paused" in " ".join(
        again.output.split()
    )
    res = sched("resume", "nightly", "--catch-up")
    assert res.exit_code == 0 and "resumed pipeline schedule nightly" in res.output
    assert json.loads(sched("describe", "nightly", "--json").output)["catchUp"] is True

    res = sched("delete", "nightly")
    assert res.exit_code == 0 and "deleted" in res.output
    gone = sched("describe", "nightly")
    assert gone.exit_code == 2 and "no pipeline schedule 'nightly'" in " ".join(gone.output.split())


def test_bad_input_is_one_line_and_exit_2(sched: Any, pipeline: Path) -> None:
    res = sched("create", "x", str(pipeline), "-p", "a=1", "--cron", "every tuesday")
    assert res.exit_code == 2 and "invalid schedule 'every tuesday'" in res.output
    res = sched("create", "x", str(pipeline), "-p", "a=1", "--on-alert", "nope")
    assert res.exit_code == 2 and "no monitor 'nope'" in res.output
    res = sched("create", "x", str(pipeline), "--cron", "0 * * * *")
    assert res.exit_code == 2 and "pipeline input 'a' (NUMBER_INTEGER) is required" in res.output
    res = sched("create", "x", str(pipeline), "-p", "a", "--cron", "0 * * * *")
    assert res.exit_code == 2 and "write it as NAME=VALUE" in res.output
    res = sched("create", "x", str(pipeline), "-p", "a=1", "--cron", "0 * * * *", "--end", "soon")
    assert res.exit_code == 2 and "cannot read the end time 'soon'" in res.output
    res = sched("list")
    assert res.exit_code == 0 and "no pipeline schedules yet" in " ".join(res.output.split())


def test_scheduler_once_starts_due_runs_and_waits(
    ws: Workspace, sched: Any, pipeline: Path
) -> None:
    start = (datetime.now(UTC) - timedelta(minutes=3)).replace(tzinfo=None).isoformat()
    res = sched("create", "every-minute", str(pipeline), "-p", "a=4", "--cron", "* * * * *",
                "--start", start)  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["-w", str(ws.root), "scheduler", "--once"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())  # as rich wrapped it at 80 columns
    assert "0 monitor(s), 1 active pipeline schedule(s)" in text
    assert text.count("pipeline schedule every-minute: starting a run (schedule ") == 1
    assert "pipeline schedule every-minute: run 1 SUCCEEDED" in text
    described = json.loads(sched("describe", "every-minute", "--json").output)
    assert described["startedRunCount"] == 1  # without catch-up: only the newest missed minute
    assert [r["state"] for r in described["runs"]] == ["SUCCEEDED"]
    assert ws.pipelines.get(1).result["outputs"]["parameters"] == {"Output": 5}
