"""`ws.explanations`: baselines stored once per model version and method, explanations of
registered models, mean |attribution| for attribution monitoring, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from pmle.errors import InvalidInput, NotFound
from pmle.storage import schema as t
from pmle.workspace import Workspace


@pytest.fixture
def trained(ws: Workspace, table: pd.DataFrame, labels: pd.Series, make_classifier: Any) -> str:
    """`churn@1`: a classifier registered with its training dataset in its lineage."""
    dv = ws.datasets.import_("churn_train", table.assign(churn=labels))
    mv = ws.models.register(
        "churn",
        make_classifier(table, labels),
        input_example=table.head(),
        inputs=[dv.lineage_artifact_id],
    )
    return mv.ref


def _rows(ws: Workspace) -> list[Any]:
    with ws.engine.connect() as conn:
        return list(conn.execute(sa.select(t.model_explanations)).all())


def test_baseline_is_computed_from_the_training_dataset_once(
    ws: Workspace, trained: str, table: pd.DataFrame
) -> None:
    first = ws.explanations.baseline(trained)
    assert first.method == "tree_shap" and first.model == "churn@1"
    assert first.source == "dataset churn_train@1: 400 of 400 rows"
    assert first.instance["c"] == table["c"].mode()[0]
    assert first.instance["x"] == pytest.approx(table["x"].median())
    assert first.expected_value["outputs"] == ["no", "yes"]
    assert first.expected_value["output_name"] == "logit"
    importance = first.global_importance
    assert set(importance) == {"x", "n", "c", "b"}
    assert list(importance.values()) == sorted(importance.values(), reverse=True)
    assert importance["x"] > 0
    again = ws.explanations.baseline(trained)
    assert again == first
    assert ws.explanations.global_importance(trained) == importance
    assert len(_rows(ws)) == 1
    shapley = ws.explanations.baseline(trained, method="sampled_shapley")
    assert shapley.instance == first.instance
    assert len(shapley.expected_value["values"]) == 2  # f(baseline) per class
    assert len(_rows(ws)) == 2


def test_explain_uses_the_stored_baseline(ws: Workspace, trained: str, table: pd.DataFrame) -> None:
    exact = ws.explanations.explain(trained, table.head(4))
    assert [e.method for e in exact] == ["tree_shap"] * 4
    for e in exact:
        total = sum(e.feature_attributions.values()) + e.baseline_output
        assert total == pytest.approx(e.instance_output, abs=1e-9)
    sampled = ws.explanations.explain(trained, table.head(4), method="sampled_shapley")
    base = ws.explanations.baseline(trained, method="sampled_shapley")
    model = ws.models.load(trained)
    f_base = model.predict_proba(pd.DataFrame([base.instance]))[0]
    proba = model.predict_proba(table.head(4))
    for i, e in enumerate(sampled):
        k = e.output_index
        assert k is not None and e.output_display_name == ["no", "yes"][k]
        assert e.baseline_output == pytest.approx(f_base[k], abs=1e-12)
        assert e.instance_output == pytest.approx(proba[i, k], abs=1e-12)
        assert sum(e.feature_attributions.values()) == pytest.approx(
            e.instance_output - e.baseline_output, abs=1e-12
        )
    other = ws.explanations.explain(trained, table.head(4), output_index=0)
    assert {e.output_display_name for e in other} == {"no"}


def test_instances_as_lists_in_signature_order(
    ws: Workspace, trained: str, table: pd.DataFrame
) -> None:
    rows = table.head(3).astype(object).where(table.head(3).notna(), None)
    as_dicts = ws.explanations.explain(trained, rows.to_dict(orient="records"))
    as_lists = ws.explanations.explain(trained, rows.values.tolist())
    assert [e.feature_attributions for e in as_dicts] == [e.feature_attributions for e in as_lists]


def test_mean_abs_attributions(ws: Workspace, trained: str, table: pd.DataFrame) -> None:
    found = ws.explanations.mean_abs_attributions(trained, table, max_rows=50, seed=1)
    assert found == ws.explanations.mean_abs_attributions(trained, table, max_rows=50, seed=1)
    sample = table.sample(n=50, random_state=1)
    want = ws.explanations.attribute(trained, sample).mean_abs()
    assert found == pytest.approx(want)
    everything = ws.explanations.mean_abs_attributions(trained, table)
    assert everything == pytest.approx(ws.explanations.global_importance(trained))
    sampled = ws.explanations.mean_abs_attributions(
        trained, table.head(20), method="sampled_shapley"
    )
    assert set(sampled) == {"x", "n", "c", "b"} and all(v >= 0 for v in sampled.values())


def test_a_model_without_lineage_takes_its_baseline_data_explicitly(
    ws: Workspace, table: pd.DataFrame, labels: pd.Series, make_classifier: Any
) -> None:
    ws.models.register("bare", make_classifier(table, labels), input_example=table.head())
    # Exact TreeSHAP of a LightGBM model needs no baseline data.
    assert len(ws.explanations.explain("bare", table.head(2))) == 2
    with pytest.raises(InvalidInput, match="no training dataset in its lineage") as err:
        ws.explanations.explain("bare", table.head(2), method="sampled_shapley")
    assert "--global --method sampled_shapley --data" in (err.value.hint or "")
    # Rows given for the default method store the baseline of every method the model allows.
    base = ws.explanations.baseline("bare", data=table.head(100))
    assert base.method == "tree_shap" and base.source == "rows given: 100 of 100 rows"
    assert len(_rows(ws)) == 2
    assert len(ws.explanations.explain("bare", table.head(2), method="sampled_shapley")) == 2
    replaced = ws.explanations.baseline("bare", method="sampled_shapley", data=table)
    assert replaced.source == "rows given: 400 of 400 rows"
    assert ws.explanations.baseline("bare", method="sampled_shapley") == replaced
    exact = ws.explanations.baseline("bare", method="tree_shap")
    assert exact.source == replaced.source and exact.instance == replaced.instance
    assert len(_rows(ws)) == 2


def test_a_baseline_reads_a_seeded_sample_of_the_input_columns(
    ws: Workspace, trained: str, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.monitoring import explanations

    seen: list[pd.DataFrame] = []
    compute = explanations.Explanations._compute

    def spy(self: Any, mv: Any, model: Any, method: str, frame: pd.DataFrame, *rest: Any) -> Any:
        seen.append(frame)
        return compute(self, mv, model, method, frame, *rest)

    monkeypatch.setattr(explanations.Explanations, "_compute", spy)
    monkeypatch.setattr(explanations, "BASELINE_ROWS", 120)
    base = ws.explanations.baseline(trained)
    assert base.source == "dataset churn_train@1: 120 of 400 rows"
    (frame,) = seen
    assert list(frame.columns) == ["x", "n", "c", "b"]  # not the label column
    assert len(frame) == 120 and frame["x"].nunique() > 100
    # Seeded: the same rows again, and spread over the whole dataset, not its head.
    again = ws.explanations.baseline(trained, data="churn_train")
    pd.testing.assert_frame_equal(seen[1], frame)
    assert again.instance == base.instance
    assert not frame.equals(table[["x", "n", "c", "b"]].head(120).reset_index(drop=True))
    given = ws.explanations.baseline(trained, data=table.assign(extra=1))
    assert given.source == "rows given: 120 of 400 rows"
    assert list(seen[-1].columns) == ["x", "n", "c", "b"]


def test_concurrent_first_requests_compute_the_baseline_once(
    ws: Workspace, trained: str, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from pmle.monitoring import explanations

    calls: list[str] = []
    compute = explanations.Explanations._compute

    def slow(self: Any, *args: Any) -> Any:
        calls.append(args[2])
        time.sleep(0.3)  # both requests are in flight before either stores its baseline
        return compute(self, *args)

    monkeypatch.setattr(explanations.Explanations, "_compute", slow)
    results: list[Any] = []
    errors: list[BaseException] = []

    def first_request() -> None:
        try:
            results.append(
                ws.explanations.explain(trained, table.head(2), method="sampled_shapley")
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_request) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == [] and len(results) == 3
    assert calls == ["sampled_shapley"]
    assert len(_rows(ws)) == 1
    assert results[0] == results[1] == results[2]


def test_sampled_shapley_stays_within_its_evaluation_limit(
    ws: Workspace, trained: str, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.monitoring import attributions

    # 4 columns, 10 paths: 30 model evaluations per instance, so 40 instances at most.
    monkeypatch.setattr(attributions, "MAX_EVALUATIONS", 30 * 40)
    with pytest.raises(InvalidInput, match="over the limit") as err:
        ws.explanations.explain(trained, table.head(41), method="sampled_shapley")
    assert "fewer instances or a smaller pathCount" in (err.value.hint or "")
    assert _rows(ws) == []  # refused before any work, the baseline included
    assert (
        len(
            ws.explanations.explain(trained, table.head(41), method="sampled_shapley", path_count=9)
        )
        == 41
    )
    # Global attributions sample the rows down to fit instead.
    found = ws.explanations.mean_abs_attributions(trained, table, method="sampled_shapley")
    want = ws.explanations.attribute(
        trained, table.sample(n=40, random_state=0), method="sampled_shapley"
    ).mean_abs()
    assert found == pytest.approx(want)


def test_an_ensemble_with_a_linear_member_stores_its_term_means(
    ws: Workspace, table: pd.DataFrame, values: pd.Series
) -> None:
    import time

    import lightgbm as lgb

    from pmle.automl.trainer import FitSetup, FoldData, _fit_linear
    from pmle.models.ensemble import EnsembleModel, Member
    from pmle.models.transforms import FeatureTransform

    transform = FeatureTransform.fit(
        table, {"x": "numeric", "n": "numeric", "c": "categorical", "b": "boolean"}
    )
    x = transform.transform(table)
    y = values.to_numpy()
    booster = lgb.train(
        {"objective": "regression", "num_leaves": 7, "verbose": -1, "num_threads": 1},
        lgb.Dataset(x, y, categorical_feature=transform.categorical_features),
        num_boost_round=10,
    )
    setup = FitSetup("regression", 1, transform.categorical_features, time.monotonic() + 60, 1, 0)
    linear = _fit_linear({"C": 1.0}, FoldData(x, y, x[:20], y[:20]), setup)[0]
    model = EnsembleModel(
        transform, [Member("lightgbm", booster, 0.7), Member("linear", linear, 0.3)], "regression"
    )
    dv = ws.datasets.import_("values_train", table.assign(y=values))
    ws.models.register("value", model, input_example=table.head(), inputs=[dv.lineage_artifact_id])
    found = ws.explanations.explain("value", table.head(5))
    assert found[0].method == "tree_shap" and found[0].output_name == "value"
    for e in found:
        total = sum(e.feature_attributions.values()) + e.baseline_output
        assert total == pytest.approx(e.instance_output, abs=1e-9)
    base = ws.explanations.baseline("value")
    assert set(base.expected_value["linear_term_means"]) == {"1"}
    np.testing.assert_allclose(
        [e.instance_output for e in found], ws.models.load("value").predict(table.head(5))
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"model_ref": "nosuch"}, NotFound, "nosuch"),
        ({"method": "integrated_gradients"}, InvalidInput, "unknown explanation method"),
        ({"path_count": 0}, InvalidInput, "path_count"),
        ({"instances": []}, InvalidInput, "no instances"),
        ({"instances": [{"x": 1.0}]}, InvalidInput, "missing column"),
        ({"instances": [[1.0, 2]]}, InvalidInput, "list of 4 values"),
        ({"instances": [{"x": 1.0}, [1.0]]}, InvalidInput, "object keyed by column"),
        ({"output_index": 5}, InvalidInput, "out of range"),
    ],
)
def test_bad_requests(
    ws: Workspace,
    trained: str,
    table: pd.DataFrame,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    call: dict[str, Any] = {"model_ref": trained, "instances": table.head(2), **kwargs}
    with pytest.raises(error, match=message):
        ws.explanations.explain(call.pop("model_ref"), call.pop("instances"), **call)


def test_bad_baseline_requests(ws: Workspace, trained: str, table: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="DataFrame or a dataset reference"):
        ws.explanations.baseline(trained, data=[1, 2])
    with pytest.raises(InvalidInput, match="no rows"):
        ws.explanations.baseline(trained, data=table.head(0))
    with pytest.raises(InvalidInput, match="max_rows"):
        ws.explanations.mean_abs_attributions(trained, table, max_rows=0)
    ws.datasets.import_("other", table.head(50))
    assert ws.explanations.baseline(trained, data="other").source.startswith("dataset other@1")
