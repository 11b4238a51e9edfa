from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.workspace import Workspace

runner = CliRunner()


def pmle_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "pmle", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "150"},
    )


def test_help_and_version() -> None:
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for command in ("init", "info", "data", "models", "sql", "lineage", "demo"):
        assert command in res.output
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.startswith("pmle ")


def test_init_then_info(tmp_path: Path) -> None:
    res = runner.invoke(app, ["init", str(tmp_path / "p")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["-w", str(tmp_path / "p"), "info", "--format", "json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["schema_revision"] == "0013" and info["datasets"] == 0
    again = runner.invoke(app, ["init", str(tmp_path / "p")])
    assert again.exit_code == 2
    assert "already holds a pmle workspace" in again.output


def test_no_workspace_is_one_line_and_exit_2(tmp_path: Path) -> None:
    res = pmle_cli("data", "list", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("error: no pmle workspace")
    assert "Traceback" not in res.stderr + res.stdout


def test_sql_formats_and_errors(ws: Workspace, churn_csv: Path) -> None:
    ws.datasets.import_("churn", churn_csv)
    base = ["-w", str(ws.root), "sql"]
    res = runner.invoke(app, [*base, "SELECT count(*) AS n FROM churn", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == [{"n": 7043}]
    res = runner.invoke(
        app, [*base, "SELECT contract FROM churn ORDER BY 1 LIMIT 2", "--format", "csv"]
    )
    assert res.output.splitlines() == ['"contract"', '"Month-to-month"', '"Month-to-month"']
    res = runner.invoke(app, [*base, "SELECT tenure FROM churn", "--limit", "3"])
    assert res.exit_code == 0 and "7,040 more rows" in res.output
    res = runner.invoke(app, [*base, "CREATE TABLE t AS SELECT 1 AS one"])
    assert res.exit_code == 0
    assert ws.warehouse.tables() == ["t"]
    res = runner.invoke(app, [*base, "SELECT * FROM nowhere"])
    assert res.exit_code == 2 and "SQL error" in res.output


def test_lineage_command(ws: Workspace, churn_csv: Path) -> None:
    ws.datasets.import_("churn", churn_csv)
    ws.datasets.split("churn")
    res = runner.invoke(app, ["-w", str(ws.root), "lineage", "churn_train@1"])
    assert res.exit_code == 0, res.output
    assert "Split" in res.output and "churn@1" in res.output and "telco_churn.csv.gz" in res.output
    res = runner.invoke(
        app, ["-w", str(ws.root), "lineage", "dataset:churn", "--downstream", "-f", "json"]
    )
    graph = json.loads(res.output)
    assert {a["name"] for a in graph["artifacts"]} == {
        "churn@1",
        "churn_train@1",
        "churn_validation@1",
        "churn_test@1",
    }
    for bad in ("nothing@1", "#999", "table:churn"):
        res = runner.invoke(app, ["-w", str(ws.root), "lineage", bad])
        assert res.exit_code == 2, (bad, res.output)
        assert res.output.startswith("error:")


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    res = pmle_cli("-w", str(tmp_path / "demo"), "demo", "--budget", "5")
    assert res.returncode == 0, res.stderr
    for text in (
        "churn@1",
        "7,043 rows",
        "churn_train@1",
        "5,634 rows",
        "Lineage",
        "Split",
        "Import",
        "registered churn@1",
        "champion",
        "AutoML",
        "test (churn_test@1)",
        "Pipeline",
        "register-model",
        "5 of 5 tasks from the cache",
        "deploy-model",
        "Lineage of churn_pipeline@1",
        "SQL model",
        "created model churn_logreg@1",
        "Tune",
        "study churn-lgbm, 6 trials, 2 at a time",
        "AutoML champion",
        "logistic_reg",
        "Vertex AI :predict over HTTP",
        "Canary",
        "(challenger)",
        "Monitor",
        "Window 2",
        "Explain",
        "Features",
    ):
        assert text in res.stdout, text
    # the demo left a real workspace behind to explore
    from pmle.workspace import open_workspace

    demo_ws = open_workspace(tmp_path / "demo")
    assert {d.name for d in demo_ws.datasets.list()} == {
        "churn",
        "churn_train",
        "churn_validation",
        "churn_test",
        "billing_events",
        "churn_features_train",
    }
    assert demo_ws.models.get("churn@champion").version == 1
    # the SQL model, compared with the champion on the test split in one query
    assert demo_ws.models.get("churn_logreg").task == "binary"
    (evaluated,) = demo_ws.sql(
        "SELECT roc_auc FROM ML.EVALUATE(MODEL churn_logreg, TABLE churn_test)"
    ).to_pylist()
    assert 0.7 < evaluated["roc_auc"] <= 1
    automl_line = next(line for line in res.stdout.splitlines() if "│ automl" in line)
    assert len(automl_line.split("│")) == 9  # model + the six metrics, framed
    # the tuning study: 6 trials, each a tracked run with LightGBM's validation curve
    study = demo_ws.tuning.study("churn-lgbm")
    assert study.finished == 6 and study.best_trial.value > 0.7
    runs = demo_ws.tracking.runs("churn-tuning", max_results=None)
    assert len(runs) == 6 and all("learning_rate" in r.params for r in runs)
    assert demo_ws.tracking.metric_history(runs[0].id, "valid_0_binary_logloss")
    # the training pipeline registered its own model, linked through its tasks to the data
    (first, cached) = reversed(demo_ws.pipelines.list("pmle-training"))
    assert first.succeeded and cached.succeeded
    assert all(t["cacheHit"] for t in cached.tasks if not t["isGroup"])
    piped = demo_ws.models.get("churn_pipeline@champion")
    graph = demo_ws.lineage.upstream(piped.lineage_artifact_id or 0)
    assert "churn_train@1" in {a.name for a in graph.artifacts.values()}
    assert "PipelineTask" in {e.type for e in graph.executions.values()}
    # served: the champion and a challenger at 10 %, which really answered some requests
    endpoint = demo_ws.endpoints.get("churn")
    by_share = {share: dm for dm, share in endpoint.traffic_split.items()}
    assert sorted(by_share) == [10, 90]
    assert endpoint.deployed(by_share[10]).model == "churn@2"
    assert demo_ws.models.get("churn@challenger").version == 2
    # the pipeline deployed what passed its gate on its own endpoint
    piped_endpoint = demo_ws.endpoints.get("churn-pipeline")
    assert list(piped_endpoint.traffic_split.values()) == [100]
    champion, challenger = (endpoint.deployed(by_share[s]).request_count for s in (90, 10))
    # 201 requests before monitoring, then the test split (704 rows) in 2 × 15 requests
    assert champion + challenger == 201 + 30 and 0 < challenger < 70
    # monitored: a quiet window, then alerts for exactly the shifted features, with a report
    quiet, drifted = reversed(demo_ws.monitors.runs("churn-drift"))
    assert quiet.alerts == [] and quiet.rows > 0
    from pmle.demo import SHIFTED

    assert {a["feature"] for a in drifted.alerts} == set(SHIFTED)
    assert drifted.report and Path(drifted.report).is_file()
    # the feature store: a point-in-time training set with lineage to the view, a model served
    # with online lookup, predicting as the model does with the same features
    from pmle.demo_features import FEATURE_ENDPOINT, TRAINING_SET

    trained = demo_ws.datasets.get(TRAINING_SET)
    upstream = demo_ws.lineage.upstream(trained.lineage_artifact_id or 0)
    assert {"billing@1", "billing_events@1"} <= {a.name for a in upstream.artifacts.values()}
    (served,) = demo_ws.endpoints.get(FEATURE_ENDPOINT).deployed_models
    assert served.features == ("billing",) and served.request_count == 1
    # no value from after the label date: every row has the last bill before it
    events = demo_ws.datasets.to_pandas("billing_events")
    rows = demo_ws.datasets.to_pandas(TRAINING_SET)
    before = events[events["billed_at"] < rows["event_timestamp"].iloc[0]]
    last = before.sort_values("billed_at").groupby("customer_id")["tenure"].last()
    assert (rows.set_index("customer_id")["tenure"] == last.loc[rows["customer_id"]]).all()
