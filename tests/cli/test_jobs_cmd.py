"""`pmle jobs …` from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.workspace import Workspace

runner = CliRunner()


def _run(ws: Workspace, *args: str) -> Any:
    return runner.invoke(app, ["-w", str(ws.root), *args], env={"COLUMNS": "200"})


def test_run_list_show_logs(ws: Workspace, tmp_path: Path) -> None:
    script = tmp_path / "hello.py"
    script.write_text("import sys; print('hello', *sys.argv[1:])")
    done = _run(ws, "jobs", "run", str(script), "--name", "greet", "--", "--who", "world")
    assert done.exit_code == 0, done.output
    assert "hello --who world" in done.stdout and "SUCCEEDED" in done.output
    listed = _run(ws, "jobs", "list", "--json")
    [job] = json.loads(listed.stdout)
    assert job["name"] == "greet" and job["state"] == "SUCCEEDED"
    shown = _run(ws, "jobs", "show", str(job["id"]))
    assert "greet" in shown.output and "SUCCEEDED" in shown.output
    logs = _run(ws, "jobs", "logs", str(job["id"]), "--tail", "1")
    assert logs.stdout.strip() == "hello --who world"


def test_a_failing_job_exits_non_zero(ws: Workspace, tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text("raise SystemExit(3)")
    failed = _run(ws, "jobs", "run", str(script), "--quiet")
    assert failed.exit_code == 1
    assert "FAILED" in failed.output and "exit code 3" in failed.output
    assert _run(ws, "jobs", "cancel", "1").exit_code == 2  # not running: one line, no traceback
    missing = _run(ws, "jobs", "show", "42")
    assert missing.exit_code == 2 and "no training job 42" in missing.output
