"""`pmle models …` over a real workspace and a real LightGBM model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pmle.cli import _common, models_cmd
from pmle.models import save_model
from pmle.workspace import Workspace

runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small saved LightGBM classifier."""
    rng = np.random.default_rng(3)
    x = pd.DataFrame({"a": rng.normal(size=200), "c": pd.Categorical(rng.choice(["p", "q"], 200))})
    y = (x["a"] > 0).astype(int)
    clf = lgb.LGBMClassifier(n_estimators=5, num_threads=1, verbose=-1).fit(x, y)
    return save_model(
        clf, tmp_path_factory.mktemp("cli") / "m", input_example=x, metrics={"auc": 0.97}
    )


@pytest.fixture
def cli_ws(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """The test workspace as the one the commands open."""
    monkeypatch.setattr(_common.state, "workspace", str(ws.root))
    monkeypatch.setattr(_common.state, "debug", False)
    yield ws


def run(*args: str) -> tuple[int, str]:
    res = runner.invoke(models_cmd.app, list(args), env={"COLUMNS": "200"})
    return res.exit_code, res.output


def test_list_and_show(cli_ws: Workspace, folder: Path) -> None:
    code, out = run("list")
    assert code == 0 and "no models yet" in out
    for _ in range(2):
        cli_ws.models.register("churn", folder, description="baseline")
    cli_ws.models.set_alias("churn@2", "champion")
    code, out = run("list")
    assert code == 0 and "churn" in out and "champion→2" in out
    code, out = run("list", "--format", "json")
    [model] = json.loads(out)
    assert model["name"] == "churn" and model["versions"] == 2 and model["default_version"] == 1
    code, out = run("show", "churn")
    assert code == 0 and "@2" in out and "champion" in out and "auc=0.97" in out
    code, out = run("show", "churn", "-f", "json")
    assert [v["version"] for v in json.loads(out)["versions"]] == [1, 2]
    code, out = run("show", "churn@champion")
    assert code == 0 and "churn@2" in out and "lightgbm" in out and "p, q" in out
    code, out = run("show", "churn@1", "--format", "json")
    data = json.loads(out)
    assert data["ref"] == "churn@1" and data["aliases"] == ["default"]
    assert data["manifest"]["signature"]["inputs"][0] == {"name": "a", "type": "float"}


def test_alias_set_move_and_delete(cli_ws: Workspace, folder: Path) -> None:
    for _ in range(2):
        cli_ws.models.register("churn", folder)
    code, out = run("alias", "churn@2", "default")
    assert code == 0 and "churn@default" in out and "churn@2" in out
    assert cli_ws.models.get("churn").version == 2
    code, out = run("alias", "churn@1", "champion")
    assert code == 0
    code, out = run("alias", "churn", "champion", "--delete")
    assert code == 0 and "removed alias champion" in out
    assert "champion" not in cli_ws.models.get("churn@1").aliases


def test_delete_version_and_model(cli_ws: Workspace, folder: Path) -> None:
    for _ in range(2):
        cli_ws.models.register("churn", folder)
    code, out = run("delete", "churn@2")
    assert code == 0 and "deleted churn@2" in out
    code, out = run("delete", "churn")
    assert code == 2
    assert out.startswith("error:") and "--yes" in out
    assert [m.name for m in cli_ws.models.list()] == ["churn"]
    code, out = run("delete", "churn", "--yes")
    assert code == 0 and "1 version" in out
    assert cli_ws.models.list() == []


def test_errors_are_one_line_with_exit_code_2(cli_ws: Workspace, folder: Path) -> None:
    cli_ws.models.register("churn", folder)
    cases = {
        ("show", "nope"): "no model named 'nope'",
        ("show", "churn@9"): "has no version 9",
        ("show", "churn@staging"): "has no alias 'staging'",
        ("alias", "churn@1", "Bad Alias"): "invalid alias",
        ("alias", "churn@1", "latest"): "reserved",
        ("alias", "churn", "ghost", "--delete"): "has no alias 'ghost'",
        ("alias", "churn", "default", "--delete"): "cannot be deleted",
        ("delete", "churn@1"): "only version",
        ("delete", "nope", "--yes"): "no model named 'nope'",
        ("list", "--format", "xml"): "unknown output format",
    }
    for args, message in cases.items():
        code, out = run(*args)
        assert code == 2, (args, out)
        assert out.startswith("error:"), (args, out)
        assert sum(line.startswith("error:") for line in out.splitlines()) == 1, (args, out)
        assert message in out, (args, out)
        assert "Traceback" not in out


def test_export_and_import_mlflow(
    cli_ws: Workspace, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    cli_ws.models.register("churn", str(folder))
    code, out = run("export-mlflow", "churn@1", str(tmp_path / "exported"))
    assert code == 0, out
    assert (tmp_path / "exported" / "MLmodel").is_file()
    code, out = run("import-mlflow", str(tmp_path / "exported"), "again")
    assert code == 0, out
    assert "registered again@1 (lightgbm)" in out
    code, out = run("import-mlflow", str(tmp_path), "nothing")
    assert code == 2 and "not an MLflow model folder" in out
