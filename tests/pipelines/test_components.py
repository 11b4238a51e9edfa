"""pmle's KFP components: the steps on their own, and real pipeline runs through ws.pipelines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.pipelines.components.evaluation import evaluate_step, score_model
from pmle.pipelines.components.monitoring import run_monitor_step
from pmle.pipelines.components.registry import register_step
from pmle.pipelines.components.serving import (
    PREDICTIONS_FILE,
    batch_lineage_inputs,
    batch_predict_step,
    deploy_step,
)
from pmle.pipelines.components.training import holdout_split, load_training_data
from pmle.pipelines.components.validation import check_dataset, validate_data_step
from pmle.pipelines.templates import TRAINING, run_training
from pmle.workspace import Workspace

pytest.importorskip("kfp")


@pytest.fixture
def labelled(table: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """The serving table (400 rows: x, n, c, b) with a binary target `churn`."""
    return table.assign(churn=labels)


def _leaves(run: Any) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in run.tasks if not t["isGroup"]}


def _saved_classifier(
    tmp_path: Path, frame: pd.DataFrame, make_classifier: Any, seed: int = 0, name: str = "m"
) -> Path:
    from pmle.models.format import save_model

    x = frame.drop(columns=["churn"])
    return save_model(
        make_classifier(x, frame["churn"], seed), tmp_path / name, input_example=x.head()
    )


# --- validate_data ------------------------------------------------------------------------------


def test_check_dataset_schema_and_statistics(ws: Workspace, labelled: pd.DataFrame) -> None:
    first = check_dataset(ws, ws.datasets.import_("d", labelled).ref)
    assert first.passed and first.baseline is None  # nothing to compare a first version with
    assert first.metadata()["pmle_inputs"] == [first.dataset.lineage_artifact_id]

    same_rows = labelled.sample(frac=1.0, random_state=1)
    shuffled = check_dataset(ws, ws.datasets.import_("d", same_rows).ref)
    assert shuffled.baseline is not None and shuffled.baseline.ref == "d@1"  # the previous one
    assert shuffled.passed and max(d.value for d in shuffled.distances) < 1e-9
    assert {d.feature: d.metric for d in shuffled.distances} == {
        "x": "jensen_shannon_divergence",
        "n": "jensen_shannon_divergence",
        "c": "l_infinity",
        "b": "l_infinity",
        "churn": "l_infinity",
    }

    broken = labelled.drop(columns=["n"]).assign(
        extra=1, b=labelled["b"].astype(str), x=labelled["x"] + 3.0
    )
    report = check_dataset(ws, ws.datasets.import_("d", broken).ref, baseline="d@1")
    assert not report.passed
    assert report.missing == ["n"] and report.extra == ["extra"]
    assert report.changed == {"b": ("boolean", "string")}
    assert [d.feature for d in report.drifted] == ["x"]
    text = "; ".join(report.problems)
    assert "column(s) missing: n" in text and "unexpected column(s): extra" in text
    assert "b (boolean → string)" in text and "over max_distance 0.3: x" in text
    # a larger max_distance lets the shift through, not the schema change
    assert [d.feature for d in check_dataset(ws, "d@3", max_distance=1.0).drifted] == []

    with pytest.raises(InvalidInput, match="max_distance"):
        check_dataset(ws, "d@1", max_distance=1.5)


def test_validate_data_step_writes_the_data_or_fails(
    ws: Workspace, labelled: pd.DataFrame, tmp_path: Path
) -> None:
    ws.datasets.import_("d", labelled)
    out = tmp_path / "out" / "data"
    report = validate_data_step(ws, "d", out_path=out)
    assert pd.read_parquet(out).shape == labelled.shape
    assert report.metadata()["dataset"] == "d@1" and report.metadata()["rows"] == 400

    ws.datasets.import_("d", labelled.assign(c="red"))
    with pytest.raises(InvalidInput, match=r"d@2 failed validation against d@1: .*c \(l_inf"):
        validate_data_step(ws, "d@2", out_path=tmp_path / "other")
    assert not (tmp_path / "other").exists()


# --- training data and the gate ---------------------------------------------------------------


def test_holdout_split_is_seeded_and_stratified(labelled: pd.DataFrame) -> None:
    train, test = holdout_split(labelled, "churn", 0.25, seed=3)
    again = holdout_split(labelled, "churn", 0.25, seed=3)[1]
    assert len(test) == 100 and len(train) == 300
    pd.testing.assert_frame_equal(test, again)
    share = (labelled["churn"] == "yes").mean()
    assert abs((test["churn"] == "yes").mean() - share) < 0.02
    with pytest.raises(InvalidInput, match="test_fraction"):
        holdout_split(labelled, "churn", 0.6, seed=0)
    with pytest.raises(InvalidInput, match="no column 'nope'"):
        holdout_split(labelled, "nope", 0.2, seed=0)


def test_load_training_data_from_a_dataset_or_a_file(
    ws: Workspace, labelled: pd.DataFrame, tmp_path: Path
) -> None:
    dv = ws.datasets.import_("d", labelled)
    data = load_training_data(ws, "d")
    assert data.dataset == "d@1" and data.lineage_artifact_id == dv.lineage_artifact_id
    labelled.to_csv(tmp_path / "rows", index=False)  # artifact files have no suffix
    labelled.to_parquet(tmp_path / "rows.pq")
    for name in ("rows", "rows.pq"):
        got = load_training_data(ws, path=str(tmp_path / name))
        assert got.label == str(tmp_path / name) and got.frame.shape == labelled.shape
    with pytest.raises(InvalidInput, match="names no workspace dataset"):
        load_training_data(ws, path=str(tmp_path / "missing"))


def test_evaluate_step_gate(
    ws: Workspace, labelled: pd.DataFrame, make_classifier: Any, tmp_path: Path
) -> None:
    ws.datasets.import_("d", labelled)
    meta = {"dataset": "d@1", "target": "churn", "test_fraction": 0.25, "seed": 0, "metric": "auc"}
    candidate = _saved_classifier(tmp_path, labelled, make_classifier)

    first = evaluate_step(ws, candidate, meta, "churn")
    assert first.passed and first.champion is None and first.champion_ref == ""
    assert first.rows == 100 and first.greater_is_better and 0.9 < first.candidate <= 1.0

    ws.models.register("churn", candidate, aliases=["champion"])
    equal = evaluate_step(ws, candidate, meta, "churn")
    assert equal.passed and equal.champion == equal.candidate and equal.champion_ref == "churn@1"
    assert not evaluate_step(ws, candidate, meta, "churn", min_improvement=0.01).passed

    # a champion that learned noise loses on the same rows, in both directions of metric
    noise = labelled.assign(churn=labelled["churn"].sample(frac=1.0, random_state=0).to_numpy())
    weak = _saved_classifier(tmp_path, noise, make_classifier, name="weak")
    ws.models.register("churn", weak, aliases=["champion"])
    better = evaluate_step(ws, candidate, meta, "churn", min_improvement=0.1)
    assert better.passed and better.improvement is not None and better.improvement > 0.1
    by_loss = evaluate_step(ws, candidate, meta, "churn", metric="log_loss")
    assert not by_loss.greater_is_better and by_loss.passed
    assert by_loss.candidate < by_loss.champion  # type: ignore[operator]
    # the weak candidate against the good champion is blocked
    ws.models.set_alias("churn@1", "champion")
    assert not evaluate_step(ws, weak, meta, "churn", metric="log_loss").passed

    with pytest.raises(InvalidInput, match="unknown metric 'f1'"):
        evaluate_step(ws, candidate, meta, "churn", metric="f1")
    with pytest.raises(InvalidInput, match="does not say how it was tested"):
        evaluate_step(ws, candidate, {"metric": "auc"}, "churn")


def test_score_model_checks_the_task(
    labelled: pd.DataFrame, make_classifier: Any, tmp_path: Path
) -> None:
    from pmle.models.format import load_model

    model = load_model(_saved_classifier(tmp_path, labelled, make_classifier))
    assert 0.5 < score_model(model, labelled, "churn", "accuracy") <= 1.0
    with pytest.raises(InvalidInput, match="needs a regression model"):
        score_model(model, labelled, "churn", "rmse")
    with pytest.raises(InvalidInput, match="classes the model does not know"):
        score_model(model, labelled.assign(churn="maybe"), "churn", "auc")


# --- register, deploy, batch prediction, monitors -------------------------------------------


def test_register_step_links_lineage_without_a_pipeline_artifact(
    ws: Workspace, labelled: pd.DataFrame, make_classifier: Any, tmp_path: Path
) -> None:
    dv = ws.datasets.import_("d", labelled)
    folder = _saved_classifier(tmp_path, labelled, make_classifier)
    version = register_step(
        ws,
        folder,
        "churn",
        model_uri=str(folder),  # no lineage node has this URI: link the dataset instead
        model_metadata={"pmle_inputs": [dv.lineage_artifact_id], "dataset": "d@1"},
        alias="candidate",
    )
    assert version.ref == "churn@1" and "candidate" in version.aliases
    assert version.description.startswith("pipeline AutoML on d@1")
    graph = ws.lineage.upstream(version.lineage_artifact_id or 0)
    assert "d@1" in {a.name for a in graph.artifacts.values()}


def test_deploy_step_creates_the_endpoint_then_canaries(
    ws: Workspace, labelled: pd.DataFrame, make_classifier: Any, tmp_path: Path
) -> None:
    folder = _saved_classifier(tmp_path, labelled, make_classifier)
    ws.models.register("churn", folder)
    ws.models.register("churn", folder)
    first = deploy_step(ws, "churn@1", "ep", traffic_percent=10)  # nothing to canary against
    assert ws.endpoints.get("ep").traffic_split == {first.id: 100}
    second = deploy_step(ws, "churn@2", "ep", traffic_percent=10)
    assert ws.endpoints.get("ep").traffic_split == {first.id: 90, second.id: 10}


def test_batch_predict_and_monitor_steps(
    ws: Workspace, labelled: pd.DataFrame, make_classifier: Any, tmp_path: Path
) -> None:
    dv = ws.datasets.import_("d", labelled)
    folder = _saved_classifier(tmp_path, labelled, make_classifier)
    mv = ws.models.register("churn", folder, inputs=[dv.lineage_artifact_id or 0])
    result = batch_predict_step(ws, "churn", "d@1", tmp_path / "preds")
    scored = pd.read_parquet(tmp_path / "preds" / PREDICTIONS_FILE)
    assert result.rows == len(scored) == 400 and "prediction" in scored.columns
    assert batch_lineage_inputs(ws, result) == [mv.lineage_artifact_id, dv.lineage_artifact_id]

    ws.monitors.create("m", model="churn@1", schedule=None, baseline="d@1")
    run = run_monitor_step(ws, "m", data="d@1")
    assert run.state == "COMPLETE" and run.alerts == []


# --- pipelines --------------------------------------------------------------------------------


def test_training_pipeline_registers_deploys_caches_and_gates(
    ws: Workspace, labelled: pd.DataFrame
) -> None:
    dv = ws.datasets.import_("train", labelled)
    params = {"endpoint": "churn", "budget_s": 2.0}
    run = run_training(ws, "train@1", "churn", "churn", **params)
    assert run.state == "SUCCEEDED", run.error
    tasks = _leaves(run)
    assert set(tasks) == {
        "validate-data",
        "automl-train",
        "evaluate-model",
        "register-model",
        "deploy-model",
    }
    assert run.source == str(TRAINING)
    gate = tasks["evaluate-model"]["parameters"]
    assert gate["passed"] is True and gate["champion_ref"] == "" and gate["candidate"] > 0.8
    model_meta = tasks["automl-train"]["artifacts"]["model"][0]["metadata"]
    assert model_meta["dataset"] == "train@1" and model_meta["metric"] == "auc"
    assert model_meta["test_rows"] == 80
    metrics = tasks["automl-train"]["artifacts"]["metrics"][0]["metadata"]
    assert {"cv_auc", "test_auc", "test_accuracy"} <= set(metrics)
    data_meta = tasks["validate-data"]["artifacts"]["data"][0]["metadata"]
    assert data_meta["pmle_inputs"] == [dv.lineage_artifact_id] and data_meta["rows"] == 400

    champion = ws.models.get("churn@champion")
    assert tasks["register-model"]["parameters"]["Output"] == champion.ref == "churn@1"
    assert champion.manifest["metrics"]["test_auc"] == pytest.approx(metrics["test_auc"])
    endpoint = ws.endpoints.get("churn")
    assert [d.model for d in endpoint.deployed_models] == ["churn@1"]
    assert endpoint.traffic_split == {tasks["deploy-model"]["parameters"]["Output"]: 100}

    # the registered version's lineage goes back through the pipeline's tasks to the dataset
    graph = ws.lineage.upstream(champion.lineage_artifact_id or 0)
    assert dv.lineage_artifact_id in graph.artifacts
    assert "PipelineTask" in {e.type for e in graph.executions.values()}

    again = run_training(ws, "train@1", "churn", "churn", **params)
    assert again.state == "SUCCEEDED"
    assert all(t["cacheHit"] for t in _leaves(again).values())
    assert len(ws.models.versions("churn")) == 1

    # the same model is not better than itself by 0.5: the gate blocks it
    gated = run_training(ws, "train@1", "churn", "churn", min_improvement=0.5, **params)
    assert gated.state == "SUCCEEDED"
    tasks = _leaves(gated)
    assert tasks["validate-data"]["cacheHit"] and tasks["automl-train"]["cacheHit"]
    gate = tasks["evaluate-model"]["parameters"]
    assert gate["passed"] is False and gate["champion_ref"] == "churn@1"
    assert gate["candidate"] == pytest.approx(gate["champion"])
    assert "register-model" not in tasks or tasks["register-model"]["state"] == "SKIPPED"
    assert len(ws.models.versions("churn")) == 1


def test_training_pipeline_fails_on_a_dropped_column(ws: Workspace, labelled: pd.DataFrame) -> None:
    ws.datasets.import_("train", labelled)
    ws.datasets.import_("train", labelled.drop(columns=["n"]))
    run = run_training(ws, "train@2", "churn", "churn", budget_s=2.0)
    assert run.state == "FAILED"
    tasks = _leaves(run)
    failed = tasks["validate-data"]
    assert failed["state"] == "FAILED"
    assert (
        "dataset train@2 failed validation against train@1: column(s) missing: n"
        in (failed["error"])
    )
    assert tasks["automl-train"]["state"] == "SKIPPED"
    assert ws.models.list() == []


OPS_PIPELINE = """
from kfp import dsl

from pmle.pipelines.components import batch_predict, deploy_model, run_monitor


@dsl.pipeline(name="ops")
def ops(model_ref: str, endpoint: str, source: str, monitor: str):
    deploy_model(model_ref=model_ref, endpoint=endpoint, traffic_percent=10)
    batch_predict(model_ref=model_ref, source=source)
    run_monitor(monitor=monitor, data=source)
"""


def test_ops_pipeline_deploys_a_canary_predicts_and_monitors(
    ws: Workspace, labelled: pd.DataFrame, make_classifier: Any, tmp_path: Path
) -> None:
    dv = ws.datasets.import_("d", labelled)
    folder = _saved_classifier(tmp_path, labelled, make_classifier)
    ws.models.register("churn", folder, inputs=[dv.lineage_artifact_id or 0])
    second = ws.models.register("churn", folder)
    ws.endpoints.create("ep")
    first = ws.endpoints.deploy("ep", "churn@1")
    ws.monitors.create("m", model="churn@1", schedule=None, baseline="d@1")
    source = tmp_path / "ops.py"
    source.write_text(OPS_PIPELINE)

    run = ws.pipelines.run(
        source, {"model_ref": second.ref, "endpoint": "ep", "source": "d@1", "monitor": "m"}
    )
    assert run.state == "SUCCEEDED", run.error
    tasks = _leaves(run)
    deployed = tasks["deploy-model"]["parameters"]["Output"]
    assert ws.endpoints.get("ep").traffic_split == {first.id: 90, deployed: 10}
    assert tasks["run-monitor"]["parameters"]["Output"] == 0
    (predictions,) = tasks["batch-predict"]["artifacts"]["predictions"]
    assert predictions["metadata"]["rows"] == 400 and predictions["metadata"]["model"] == "churn@2"
    scored = pd.read_parquet(Path(predictions["uri"]) / PREDICTIONS_FILE)
    assert len(scored) == 400 and {"prediction", "probability_yes"} <= set(scored.columns)
    assert predictions["metadata"]["pmle_inputs"] == [
        second.lineage_artifact_id,
        dv.lineage_artifact_id,
    ]


def test_every_component_compiles_and_is_supported(tmp_path: Path) -> None:
    from kfp import compiler

    from pmle.pipelines.compile import load_any
    from pmle.pipelines.ir import load_pipeline
    from pmle.pipelines.lightweight import lightweight_function
    from pmle.pipelines.support import check_supported

    source = tmp_path / "ops.py"
    source.write_text(OPS_PIPELINE)
    for spec in (load_any(TRAINING), load_any(source)):
        check_supported(spec)
        for executor in spec.executors.values():
            function = lightweight_function(executor)
            assert function is not None and function.packages_to_install == ["pmle"]
    import pmle.pipelines.templates.training as training

    target = tmp_path / "training.yaml"
    compiler.Compiler().compile(training.training_pipeline, str(target))
    assert load_pipeline(target).name == "pmle-training"
    text = target.read_text()
    assert "from pmle.pipelines.components.validation import validate_data_step" in text
    assert json.dumps("python:3.11-slim")[1:-1] in text
