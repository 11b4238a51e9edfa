"""`pmle pipelines …` from the command line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.workspace import Workspace

pytest.importorskip("kfp")

_spec = importlib.util.spec_from_file_location(
    "pmle_runs_pipeline_cli", Path(__file__).parents[1] / "pipelines" / "runs_pipeline.py"
)
assert _spec is not None and _spec.loader is not None
src = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(src)

runner = CliRunner()


def _run(ws: Workspace, *args: str) -> Any:
    return runner.invoke(app, ["-w", str(ws.root), *args])


def test_run_show_list(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "demo.py"
    path.write_text(src.SOURCE)
    result = _run(ws, "pipelines", "run", f"{path}:demo", "--param", "n=4", "-p", "k=2")
    assert result.exit_code == 0, result.output
    assert "SUCCEEDED" in result.output and "consume" in result.output
    assert "Output = '0,1,2,3!'" in result.output
    assert "3 tasks, 0 from cache" in result.output

    again = _run(ws, "pipelines", "run", str(path), "--param", "n=4", "--param", "k=2", "--json")
    assert again.exit_code == 0, again.output
    data = json.loads(again.output)
    assert data["state"] == "SUCCEEDED" and data["params"] == {"n": 4, "k": 2}
    assert all(t["cacheHit"] for t in data["tasks"] if not t["isGroup"])

    nocache = _run(ws, "pipelines", "run", str(path), "--no-cache", "--max-parallel", "1")
    assert nocache.exit_code == 0, nocache.output
    assert "(cached)" not in nocache.output

    shown = _run(ws, "pipelines", "show", str(data["id"]))
    assert shown.exit_code == 0, shown.output
    assert "run 2 (runs-demo-2)" in shown.output and "runs-demo" in shown.output
    consume = next(line for line in shown.output.splitlines() if "consume" in line)
    assert "SUCCEEDED" in consume and "(cached)" in consume and "after make" in consume
    shown_json = json.loads(_run(ws, "pipelines", "show", "1", "--json").output)
    assert {t["name"] for t in shown_json["tasks"]} >= {"make", "consume", "score"}

    listed = _run(ws, "pipelines", "list")
    assert listed.exit_code == 0 and "runs-demo" in listed.output
    assert [r["id"] for r in json.loads(_run(ws, "pipelines", "list", "--json").output)] == [
        3,
        2,
        1,
    ]


def test_failing_pipeline_exits_1(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "fails.py"
    path.write_text(src.FAILING)
    result = _run(ws, "pipelines", "run", str(path), "--param", "x=3")
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output and "boom 3" in result.output


def test_bad_input_is_a_clean_error(ws: Workspace, tmp_path: Path) -> None:
    missing = _run(ws, "pipelines", "run", str(tmp_path / "nope.py"))
    assert missing.exit_code == 2 and "no pipeline file" in missing.output
    assert "Traceback" not in missing.output
    path = tmp_path / "demo.py"
    path.write_text(src.SOURCE)
    bad = _run(ws, "pipelines", "run", str(path), "--param", "n")
    assert bad.exit_code == 2 and "NAME=VALUE" in bad.output
    typed = _run(ws, "pipelines", "run", str(path), "--param", "n=x")
    assert typed.exit_code == 2 and "cannot read pipeline input" in typed.output
    unknown = _run(ws, "pipelines", "show", "42")
    assert unknown.exit_code != 0 and "no pipeline run" in unknown.output
    empty = _run(ws, "pipelines", "list")
    assert empty.exit_code == 0 and "no pipeline runs yet" in empty.output


def test_retry_and_cancel(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "flaky.py"
    path.write_text(src.FLAKY)
    marker = tmp_path / "marker"
    failed = _run(ws, "pipelines", "run", str(path), "-p", f"marker={marker}")
    assert failed.exit_code == 1 and "FAILED" in failed.output
    cancel = _run(ws, "pipelines", "cancel", "1")
    assert cancel.exit_code != 0 and "already ended (FAILED)" in cancel.output
    marker.touch()
    retried = _run(ws, "pipelines", "retry", "1")
    assert retried.exit_code == 0, retried.output
    assert "(attempt 2)" in retried.output and "1 reused" in retried.output
    first = next(line for line in retried.output.splitlines() if "root/first" in line)
    assert "(reused)" in first
    shown = _run(ws, "pipelines", "show", "1")
    assert "flaky" in shown.output and "(reused)" in shown.output


def test_delete_and_prune(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "demo.py"
    path.write_text(src.SOURCE)
    assert _run(ws, "pipelines", "run", str(path)).exit_code == 0
    assert _run(ws, "pipelines", "run", str(path), "-p", "n=2").exit_code == 0
    dry = _run(ws, "pipelines", "prune", "--older-than", "0s", "--dry-run")
    assert dry.exit_code == 0 and "would delete 2 run(s)" in dry.output
    deleted = _run(ws, "pipelines", "delete", "1")
    assert deleted.exit_code == 0 and "deleted run 1" in deleted.output
    assert "deleted 1 run(s)" in _run(ws, "pipelines", "prune", "--older-than", "0d").output
    bad = _run(ws, "pipelines", "prune", "--older-than", "soon")
    assert bad.exit_code == 2 and "cannot read the age" in bad.output
