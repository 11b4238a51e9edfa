"""`pmle lab …` from the command line: list, start, show with hints, check exit codes and
JSON, reset, and errors as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.exam.labs import LABS, lab

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_list_and_show() -> None:
    listed = runner.invoke(app, ["lab", "list"], env=WIDE)
    assert listed.exit_code == 0, listed.output
    for lab_id in LABS:
        assert lab_id in listed.output
    assert "4.1" in listed.output and "started in" not in listed.output
    as_json = json.loads(runner.invoke(app, ["lab", "list", "--json"]).output)
    assert [x["id"] for x in as_json] == list(LABS) and as_json[0]["folder"] is None

    task = runner.invoke(app, ["lab", "show", "canary"], env=WIDE)
    assert task.exit_code == 0 and "Success criteria" in task.output
    assert "4 hints: pmle lab show canary --hint 1" in task.output
    hints = lab("canary").hints
    two = runner.invoke(app, ["lab", "show", "canary", "--hint", "2"], env=WIDE)
    assert two.exit_code == 0
    assert "hint 1 of 4" in two.output and "hint 2 of 4" in two.output
    assert "hint 3 of 4" not in two.output and "--hint 3" in two.output
    assert "pmle models show churn" in two.output  # hint 1's text, markup left alone
    shown = json.loads(
        runner.invoke(app, ["lab", "show", "canary", "--hint", "1", "--json"]).output
    )
    assert shown["hints"] == [hints[0]] and shown["hint_count"] == len(hints)
    too_far = runner.invoke(app, ["lab", "show", "canary", "--hint", "9"])
    assert too_far.exit_code == 2 and "has 4 hints" in too_far.output
    unknown = runner.invoke(app, ["lab", "show", "nope"])
    assert unknown.exit_code == 2 and "no lab 'nope'" in unknown.output
    assert "Traceback" not in unknown.output


def test_start_check_reset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = runner.invoke(app, ["lab", "start", "canary"], env=WIDE)
    assert started.exit_code == 0, started.output
    folder = tmp_path / "pmle-lab-canary"
    assert (folder / "TASK.md").is_file()
    assert "cd pmle-lab-canary" in started.output and "Success criteria" in started.output
    again = runner.invoke(app, ["lab", "start", "canary"], env=WIDE)
    assert again.exit_code == 0 and "already started" in again.output
    listed = runner.invoke(app, ["lab", "list"], env=WIDE)
    assert "started in pmle-lab-canary" in listed.output

    failing = runner.invoke(app, ["lab", "check", "canary"], env=WIDE)
    assert failing.exit_code == 1, failing.output
    assert "✗ the endpoint churn logs requests" in failing.output
    assert "0 of 4 checks pass" in failing.output
    report = runner.invoke(app, ["lab", "check", "canary", "--json"])
    assert report.exit_code == 1
    data = json.loads(report.output)
    assert data["passed"] is False and len(data["checks"]) == 4

    import pmle

    with pmle.open_workspace(folder) as ws:  # solved through pmle's API
        ws.endpoints.create("churn", log_sampling=1.0)
        ws.endpoints.deploy("churn", "churn@champion")
        ws.endpoints.deploy("churn", "churn@challenger", traffic_percent=10)
    passing = runner.invoke(app, ["lab", "check", "canary", "--dir", str(folder)], env=WIDE)
    assert passing.exit_code == 0, passing.output
    assert "lab canary passed" in passing.output and "✗" not in passing.output
    monkeypatch.chdir(folder)  # from inside the lab's folder, no --dir is needed
    assert runner.invoke(app, ["lab", "check", "canary", "--json"]).exit_code == 0
    other = runner.invoke(app, ["lab", "check", "sql-model"])
    assert other.exit_code == 2 and "is not started" in other.output

    refused = runner.invoke(app, ["lab", "reset", "canary"], input="n\n")
    assert refused.exit_code == 1 and (folder / ".pmle" / "lab.json").is_file()
    assert runner.invoke(app, ["lab", "check", "canary"]).exit_code == 0  # nothing changed
    reset = runner.invoke(app, ["lab", "reset", "canary", "--yes"])
    assert reset.exit_code == 0, reset.output
    assert runner.invoke(app, ["lab", "check", "canary"]).exit_code == 1

    foreign = runner.invoke(app, ["lab", "start", "sql-model", "--dir", str(folder)])
    assert foreign.exit_code == 2
    assert "holds the workspace of lab 'canary'" in foreign.output
    assert "Traceback" not in foreign.output
