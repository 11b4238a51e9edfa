"""`pmle tune …` from the command line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.workspace import Workspace

runner = CliRunner()

SPACE = """
x: {type: double, min: -3, max: 3}
kind: {type: categorical, values: [a, b]}
"""


def _run(ws: Workspace, *args: str) -> Any:
    return runner.invoke(app, ["-w", str(ws.root), *args], env={"COLUMNS": "200"})


def test_create_run_show_register(ws: Workspace, tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    objective = tmp_path / "objective.py"
    objective.write_text(
        textwrap.dedent(
            """
            from sklearn.linear_model import Ridge
            import numpy as np, pandas as pd

            def objective(trial):
                x = pd.DataFrame({"f": np.arange(20.0)})
                with trial.run.autolog():
                    Ridge(alpha=abs(trial.params["x"])).fit(x, x.f * 2)
                return -(trial.params["x"] - 1) ** 2
            """
        )
    )
    made = _run(
        ws, "tune", "create", "demo", "--space", str(space), "--metric", "score",
        "--max-trials", "4", "--parallel", "2", "--seed", "0",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "maximize score over 2 parameters, 4 trials (bayesian)" in made.output
    ran = _run(ws, "tune", "run", "demo", "--function", f"{objective}:objective")
    assert ran.exit_code == 0, ran.output
    assert ran.output.count("COMPLETE") == 4 and "best: trial" in ran.output
    again = _run(ws, "tune", "run", "demo", "--function", f"{objective}:objective")
    assert "already has its 4 trials" in again.output
    shown = _run(ws, "tune", "show", "demo", "--json")
    data = json.loads(shown.stdout)
    assert data["finished"] == 4 and len(data["trial_list"]) == 4
    assert data["best"]["value"] == max(t["value"] for t in data["trial_list"])
    listed = _run(ws, "tune", "list")
    assert "demo" in listed.output and "4/4" in listed.output
    registered = _run(ws, "tune", "register", "demo", "ridge")
    assert registered.exit_code == 0, registered.output
    assert "registered ridge@1" in registered.output


def test_errors(ws: Workspace, tmp_path: Path) -> None:
    bad = _run(ws, "tune", "create", "s", "--space", "{x: {type: real}}", "--metric", "m")
    assert bad.exit_code == 2 and "has type 'real'" in bad.output
    ok = _run(ws, "tune", "create", "s", "--space", SPACE.replace("\n", " "), "--metric", "m")
    assert ok.exit_code == 2  # a YAML block cannot be flattened to one line: not a mapping
    _run(ws, "tune", "create", "t", "--space", '{"x": {"type": "integer", "min": 1, "max": 3}}',
         "--metric", "m")  # fmt: skip
    neither = _run(ws, "tune", "run", "t")
    assert neither.exit_code == 2 and "--job SCRIPT or --function" in neither.output
    missing = _run(ws, "tune", "run", "t", "--function", "nowhere_module:f")
    assert missing.exit_code == 2 and "cannot import nowhere_module" in missing.output
    assert "no tuning study named 'zz'" in _run(ws, "tune", "show", "zz").output
