"""Feature attributions: exact TreeSHAP adds up to the score, sampled Shapley agrees with
Shapley values enumerated over every subset, both deterministic."""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.models.format import LoadedModel, load_model, save_model
from pmle.monitoring.attributions import (
    Attributions,
    baseline_instance,
    exact_available,
    linear_term_means,
    resolve_method,
    sampled_shapley,
    tree_shap,
)

KINDS = {"x": "numeric", "n": "numeric", "c": "categorical", "b": "boolean"}


def _saved(model: Any, path: Path, example: pd.DataFrame) -> LoadedModel:
    return load_model(save_model(model, path, input_example=example))


def _check_additive(found: Attributions, atol: float = 1e-6) -> None:
    total = found.values.sum(axis=2) + found.baseline_output
    np.testing.assert_allclose(total, found.instance_output, atol=atol)


@pytest.fixture(scope="module")
def classifier(
    tmp_path_factory: pytest.TempPathFactory,
    make_classifier: Any,
    table: pd.DataFrame,
    labels: pd.Series,
) -> LoadedModel:
    return _saved(make_classifier(table, labels), tmp_path_factory.mktemp("m") / "clf", table)


def test_tree_shap_of_a_lightgbm_classifier_adds_up_to_the_log_odds(
    classifier: LoadedModel, table: pd.DataFrame
) -> None:
    found = tree_shap(classifier, table)
    assert found.method == "tree_shap" and found.output_name == "logit"
    assert found.features == ["x", "n", "c", "b"] and found.labels == ["no", "yes"]
    _check_additive(found)
    log_odds = classifier.native.predict(classifier.prepare(table), raw_score=True)
    np.testing.assert_allclose(found.instance_output[:, 1], log_odds, atol=1e-9)
    np.testing.assert_allclose(found.values[:, 0], -found.values[:, 1])  # class 0: negated
    # The expected value is one number: the mean log-odds of the training data.
    assert np.ptp(found.baseline_output[:, 1]) < 1e-12
    # Explained for the predicted class, as Vertex AI does.
    exps = found.explanations()
    assert [e.output_display_name for e in exps] == list(classifier.predict(table))
    e = exps[0]
    assert math.isclose(
        sum(e.feature_attributions.values()) + e.baseline_output, e.instance_output, abs_tol=1e-9
    )
    other = found.explain(0, 1 - e.output_index)  # type: ignore[operator]
    assert other.instance_output == pytest.approx(-e.instance_output)


def test_tree_shap_of_a_lightgbm_regressor_and_multiclass_model(
    tmp_path: Path, table: pd.DataFrame, values: pd.Series
) -> None:
    import lightgbm as lgb

    kw: dict[str, Any] = {"n_estimators": 20, "num_leaves": 7, "num_threads": 1, "verbose": -1}
    train = table.assign(c=table["c"].astype("category"))
    reg = _saved(lgb.LGBMRegressor(**kw).fit(train, values), tmp_path / "reg", table)
    found = tree_shap(reg, table)
    _check_additive(found)
    assert found.output_name == "value" and found.labels is None
    np.testing.assert_allclose(found.instance_output[:, 0], reg.predict(table), atol=1e-9)
    e = found.explain(3)
    assert e.output_index is None and e.output_display_name == ""

    y = pd.cut(values, [-np.inf, 0, 2, np.inf], labels=["low", "mid", "high"]).astype(str)
    multi = _saved(lgb.LGBMClassifier(**kw).fit(train, y), tmp_path / "multi", table)
    found = tree_shap(multi, table)
    _check_additive(found)
    assert found.values.shape == (len(table), 3, 4)
    assert [found.labels[int(k)] for k in found.predicted] == list(multi.predict(table))  # type: ignore[index]


def test_tree_shap_of_xgboost(tmp_path: Path, table: pd.DataFrame, labels: pd.Series) -> None:
    import xgboost as xgb

    train = table.assign(c=table["c"].astype("category"))
    model = xgb.XGBClassifier(
        n_estimators=15, max_depth=3, enable_categorical=True, tree_method="hist", n_jobs=1
    ).fit(train, (labels == "yes").astype(int))
    loaded = _saved(model, tmp_path / "xgb", train)
    found = tree_shap(loaded, table)
    _check_additive(found, atol=1e-4)  # XGBoost adds up in float32
    assert found.output_name == "logit"


def _ensemble(task: str, table: pd.DataFrame, y: np.ndarray) -> Any:
    """An AutoML-shaped ensemble: one transform; LightGBM, CatBoost and linear members."""
    import lightgbm as lgb
    from catboost import CatBoostClassifier, CatBoostRegressor

    from pmle.automl.trainer import FitSetup, FoldData, _fit_linear
    from pmle.models.catboost_member import pool
    from pmle.models.ensemble import EnsembleModel, Member
    from pmle.models.signature import infer_signature
    from pmle.models.transforms import FeatureTransform

    transform = FeatureTransform.fit(table, KINDS)
    x = transform.transform(table)
    k = {"binary": 2, "multiclass": 3, "regression": 1}[task]
    target = np.log1p(y) if task == "regression" else y
    setup = FitSetup(task, k, transform.categorical_features, time.monotonic() + 120, 1, 0)
    folds = FoldData(x, target, x[:50], target[:50])
    params: dict[str, Any] = {"objective": task, "num_leaves": 7, "verbose": -1, "num_threads": 1}
    if task == "multiclass":
        params["num_class"] = 3
    booster = lgb.train(
        params,
        lgb.Dataset(x, target, categorical_feature=transform.categorical_features),
        num_boost_round=20,
    )
    kind = CatBoostRegressor if task == "regression" else CatBoostClassifier
    catboost = kind(
        iterations=25,
        depth=3,
        thread_count=1,
        verbose=False,
        random_seed=0,
        allow_writing_files=False,
    )
    catboost.fit(pool(x, transform.categorical_features, target))
    members = [
        Member("lightgbm", booster, 0.5, "lgbm"),
        Member("catboost", catboost, 0.3, "catboost"),
        Member("linear", _fit_linear({"C": 1.0}, folds, setup)[0], 0.2, "linear"),
    ]
    return EnsembleModel(
        transform=transform,
        members=members,
        task=task,
        classes=list(range(k)) if task != "regression" else None,
        target_transform="log1p" if task == "regression" else None,
        input_signature=infer_signature(table.head()),
    )


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_tree_shap_of_an_ensemble_adds_up_to_its_score(
    task: str, tmp_path: Path, table: pd.DataFrame, values: pd.Series
) -> None:
    v = values.to_numpy()
    y = {
        "binary": (v > 1).astype(int),
        "multiclass": np.digitize(v, [0.0, 2.0]),
        "regression": np.abs(v),
    }[task]
    model = _saved(_ensemble(task, table, y), tmp_path / task, table.head())
    assert exact_available(model) and resolve_method(model, "auto") == "tree_shap"
    means = linear_term_means(model, table)
    assert set(means) == {"2"}  # the linear member's index
    found = tree_shap(model, table, linear_means=means)
    _check_additive(found)
    ens = model.native
    scores = np.asarray(ens.scores(ens.matrix(model.prepare(table))))
    if task == "binary":
        np.testing.assert_allclose(found.instance_output[:, 1], scores, atol=1e-9)
    elif task == "multiclass":
        np.testing.assert_allclose(found.instance_output, scores, atol=1e-9)
    else:
        assert found.output_name == "log1p_value"
        np.testing.assert_allclose(found.instance_output[:, 0], scores, atol=1e-9)
    with pytest.raises(InvalidInput, match="training rows"):
        tree_shap(model, table)  # a categorical linear term needs the training means


def _exact_shapley(model: LoadedModel, row: pd.DataFrame, base: pd.DataFrame, k: int) -> Any:
    """Shapley values of f(S) = output k with the features of S from `row`, the others from
    `base`, by enumerating every subset."""
    names = list(row.columns)
    d = len(names)
    subsets = [
        frozenset(c) for size in range(d + 1) for c in itertools.combinations(range(d), size)
    ]
    mixed = pd.concat([base] * len(subsets), ignore_index=True)
    for i, subset in enumerate(subsets):
        for j in subset:
            mixed.loc[i, names[j]] = row[names[j]].iloc[0]
    f = dict(zip(subsets, model.predict_proba(mixed)[:, k], strict=True))
    phi = np.zeros(d)
    for j in range(d):
        for subset in subsets:
            if j not in subset:
                size = len(subset)
                weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
                phi[j] += weight * (f[subset | {j}] - f[subset])
    return phi


def test_sampled_shapley_agrees_with_exact_shapley_values(
    classifier: LoadedModel, table: pd.DataFrame
) -> None:
    base = baseline_instance(classifier.signature, table)
    base_frame = pd.DataFrame([base]).astype(object)
    rows = table.head(20)
    found = sampled_shapley(classifier, rows, base, path_count=50, seed=3)
    _check_additive(found, atol=1e-12)  # every path adds up exactly
    errors = []
    for i in range(len(rows)):
        e = found.explain(i)
        exact = _exact_shapley(classifier, rows.iloc[[i]], base_frame, e.output_index or 0)
        got = np.array(list(e.feature_attributions.values()))
        errors.append(np.abs(got - exact).max() / (np.abs(exact).sum() + 1e-12))
        assert e.approximation_error is not None and e.approximation_error >= 0
    # Relative to the size of the attributions: within 10 % each, 3 % on average.
    assert max(errors) <= 0.1 and np.mean(errors) <= 0.03, errors


def test_sampled_shapley_is_exact_for_an_additive_model(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    model = LinearRegression().fit(frame, frame @ np.array([1.0, -2.0, 0.5, 3.0]))
    loaded = _saved(model, tmp_path / "lin", frame)
    assert resolve_method(loaded, "auto") == "sampled_shapley"
    base = baseline_instance(loaded.signature, frame)
    found = sampled_shapley(loaded, frame.head(20), base, path_count=2, seed=0)
    want = (frame.head(20) - pd.Series(base)) * model.coef_
    np.testing.assert_allclose(found.values[:, 0], want.to_numpy(), atol=1e-9)
    assert found.output_name == "value"


def test_sampled_shapley_is_deterministic_per_seed_and_instance(
    classifier: LoadedModel, table: pd.DataFrame
) -> None:
    base = baseline_instance(classifier.signature, table)
    rows = table.head(30)
    a = sampled_shapley(classifier, rows, base, path_count=5, seed=7)
    b = sampled_shapley(classifier, rows, base, path_count=5, seed=7)
    np.testing.assert_array_equal(a.values, b.values)
    alone = sampled_shapley(classifier, rows.iloc[[12]], base, path_count=5, seed=7)
    np.testing.assert_allclose(alone.values[0], a.values[12], atol=1e-12)
    other = sampled_shapley(classifier, rows, base, path_count=5, seed=8)
    assert not np.array_equal(other.values, a.values)
    single = sampled_shapley(classifier, rows, base, path_count=1)
    assert single.explain(0).approximation_error is None


def test_baseline_instance_takes_medians_and_modes(classifier: LoadedModel) -> None:
    frame = pd.DataFrame(
        {
            "x": [1.0, 2.0, np.nan, 10.0],
            "n": [1, 2, 3, 4],
            "c": ["red", "blue", "red", None],
            "b": [True, False, False, False],
        }
    )
    base = baseline_instance(classifier.signature, frame)
    assert base == {"x": 2.0, "n": 2, "c": "red", "b": False}  # integers: an observed value
    with pytest.raises(InvalidInput, match="lacks column"):
        baseline_instance(classifier.signature, frame.drop(columns=["c"]))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, t, b: resolve_method(m, "integrated_gradients"), "unknown explanation method"),
        (lambda m, t, b: sampled_shapley(m, t, b, path_count=0), "path_count"),
        (lambda m, t, b: sampled_shapley(m, t, b, path_count=51), "path_count"),
        (lambda m, t, b: tree_shap(m, t.drop(columns=["n"])), "missing column"),
        (lambda m, t, b: sampled_shapley(m, t, {**b, "x": "high"}), "must hold numbers"),
        (lambda m, t, b: tree_shap(m, t).explain(0, 2), "out of range"),
    ],
)
def test_bad_input_is_invalid_input(
    classifier: LoadedModel, table: pd.DataFrame, call: Any, message: str
) -> None:
    base = baseline_instance(classifier.signature, table)
    with pytest.raises(InvalidInput, match=message):
        call(classifier, table.head(3), base)


def test_tree_shap_refuses_a_model_it_cannot_explain_exactly(tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(frame, frame["a"] > 0)
    loaded = _saved(forest, tmp_path / "rf", frame)
    assert not exact_available(loaded)
    with pytest.raises(InvalidInput, match="sampled_shapley"):
        tree_shap(loaded, frame)
    found = sampled_shapley(loaded, frame.head(4), baseline_instance(loaded.signature, frame))
    _check_additive(found, atol=1e-12)
    assert found.output_name == "scores"


def test_an_output_index_may_be_any_integer_type(
    classifier: LoadedModel, table: pd.DataFrame
) -> None:
    found = tree_shap(classifier, table.head(2))
    assert found.check_output(np.int64(1)) == 1 and type(found.check_output(np.int64(1))) is int
    assert found.explain(0, np.int32(0)).output_display_name == "no"  # type: ignore[arg-type]
    for bad in (np.int64(2), True, 1.0):
        with pytest.raises(InvalidInput, match="out of range"):
            found.check_output(bad)  # type: ignore[arg-type]


def test_sampled_shapley_refuses_a_call_over_its_evaluation_limit(
    classifier: LoadedModel, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.monitoring import attributions

    base = baseline_instance(classifier.signature, table)
    # 4 columns: each instance costs path_count × 3 model evaluations.
    monkeypatch.setattr(attributions, "MAX_EVALUATIONS", 10 * 3 * 20)
    assert attributions.shapley_rows(4, 10) == 20
    assert sampled_shapley(classifier, table.head(20), base, path_count=10).n == 20
    with pytest.raises(InvalidInput, match="over the limit") as err:
        sampled_shapley(classifier, table.head(21), base, path_count=10)
    assert "fewer instances or a smaller pathCount" in (err.value.hint or "")
    assert "at most 20 instance(s)" in (err.value.hint or "")


def test_sampled_shapley_of_many_rows_in_chunks_matches_one_call(
    classifier: LoadedModel, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.monitoring import attributions

    base = baseline_instance(classifier.signature, table)
    whole = sampled_shapley(classifier, table.head(40), base, path_count=6, seed=2)
    monkeypatch.setattr(attributions, "_CHUNK_ROWS", 7 * 6 * 3)  # 7 rows per chunk
    chunked = sampled_shapley(classifier, table.head(40), base, path_count=6, seed=2)
    np.testing.assert_allclose(chunked.values, whole.values, atol=1e-12)
    assert whole.error is not None and chunked.error is not None
    np.testing.assert_allclose(chunked.error, whole.error, atol=1e-12)


def test_a_multi_output_regressor_is_refused(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "c"])
    both = np.column_stack([frame["a"] + frame["b"], frame["c"]])
    loaded = _saved(LinearRegression().fit(frame, both), tmp_path / "two", frame)
    with pytest.raises(InvalidInput, match="predicts 2 values per row"):
        sampled_shapley(loaded, frame.head(3), baseline_instance(loaded.signature, frame))


def _lgbm_regressor(table: pd.DataFrame, values: pd.Series, **params: Any) -> Any:
    import lightgbm as lgb

    train = table.assign(c=table["c"].astype("category"))
    return lgb.LGBMRegressor(n_estimators=15, verbose=-1, num_threads=1, **params).fit(
        train, values
    )


def test_lightgbm_linear_trees_fall_back_to_sampled_shapley(
    tmp_path: Path, table: pd.DataFrame, values: pd.Series
) -> None:
    from pmle.monitoring.tree_shap import contributions

    loaded = _saved(_lgbm_regressor(table, values, linear_tree=True), tmp_path / "lin", table)
    assert not exact_available(loaded)
    assert resolve_method(loaded, "auto") == "sampled_shapley"
    with pytest.raises(InvalidInput, match="not linear trees"):
        tree_shap(loaded, table.head(3))
    # LightGBM's own error (no pred_contrib for linear trees) is the caller's, not a crash.
    with pytest.raises(InvalidInput, match="LightGBMError") as err:
        contributions(loaded, loaded.prepare(table.head(3)), {})
    assert "sampled_shapley" in (err.value.hint or "")
    found = sampled_shapley(loaded, table.head(5), baseline_instance(loaded.signature, table))
    _check_additive(found, atol=1e-9)
    np.testing.assert_allclose(found.instance_output[:, 0], loaded.predict(table.head(5)))


def test_tree_shap_of_a_lightgbm_random_forest_adds_up_to_its_prediction(
    tmp_path: Path, table: pd.DataFrame, values: pd.Series, labels: pd.Series
) -> None:
    import lightgbm as lgb

    forest = {"boosting_type": "rf", "bagging_freq": 1, "bagging_fraction": 0.7}
    reg = _saved(_lgbm_regressor(table, values, **forest), tmp_path / "rf", table)
    found = tree_shap(reg, table)
    _check_additive(found, atol=1e-9)
    assert found.output_name == "value"  # the average of the trees, as predicted
    np.testing.assert_allclose(found.instance_output[:, 0], reg.predict(table), atol=1e-9)
    train = table.assign(c=table["c"].astype("category"))
    clf = lgb.LGBMClassifier(n_estimators=15, verbose=-1, num_threads=1, **forest)
    binary = _saved(clf.fit(train, labels), tmp_path / "rfc", table)
    found = tree_shap(binary, table)
    _check_additive(found, atol=1e-9)
    proba = 1 / (1 + np.exp(-found.instance_output[:, 1]))
    np.testing.assert_allclose(proba, binary.predict_proba(table)[:, 1], atol=1e-9)
