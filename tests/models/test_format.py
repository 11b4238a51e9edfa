"""Model folders: save, reload, predict identically; signatures; safe loading."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import orjson
import pandas as pd
import pytest

from pmle.errors import AlreadyExists, InvalidInput, NotFound
from pmle.models import MANIFEST_FILE, load_model, read_manifest, save_model


def double(x: Any) -> Any:
    """A user function: skops records it by module and name, which pmle does not trust."""
    return x * 2


def _same(a: np.ndarray, b: np.ndarray) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    if a.dtype.kind in "fc":
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    else:
        assert np.array_equal(a, b)


# --- LightGBM -----------------------------------------------------------------------------------


def test_lightgbm_booster_round_trip(tmp_path: Path, frame, frame_cat, y_binary) -> None:
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 7, "num_threads": 1, "verbose": -1},
        lgb.Dataset(frame_cat, y_binary),
        num_boost_round=15,
    )
    path = save_model(booster, tmp_path / "m", input_example=frame.head())
    m = load_model(path)
    assert (m.flavor, m.task, m.classes) == ("lightgbm", "binary", [0, 1])
    assert (path / "model.txt").is_file()
    expected = booster.predict(frame_cat)
    assert np.array_equal(m.predict_proba(frame)[:, 1], expected)
    assert np.array_equal(m.predict(frame), (expected > 0.5).astype(int))
    assert isinstance(m.native, lgb.Booster)


def test_lightgbm_booster_signature_without_example(tmp_path: Path, frame, frame_cat, y_value):
    booster = lgb.train(
        {"objective": "regression", "num_threads": 1, "verbose": -1},
        lgb.Dataset(frame_cat, y_value),
        num_boost_round=10,
    )
    m = load_model(save_model(booster, tmp_path / "m"))
    sig = {c.name: c for c in m.signature.inputs}
    assert list(sig) == ["x", "n", "c", "b"]
    assert sig["c"].type == "string"
    assert sig["c"].categories == ("blue", "green", "red")
    assert sig["x"].type == "float"
    assert m.task == "regression"
    assert np.array_equal(m.predict(frame), booster.predict(frame_cat))


def test_lgbm_classifier_binary_round_trip(tmp_path: Path, frame, frame_cat, lgbm_binary) -> None:
    m = load_model(save_model(lgbm_binary, tmp_path / "m", input_example=frame.head(20)))
    assert np.array_equal(m.predict_proba(frame), lgbm_binary.predict_proba(frame_cat))
    assert np.array_equal(m.predict(frame), lgbm_binary.predict(frame_cat))
    # The raw string column and the category column give the same answer.
    assert np.array_equal(m.predict(frame_cat), m.predict(frame))
    assert m.signature.to_dict()["outputs"] == [{"name": "prediction", "type": "integer"}]


def test_lgbm_classifier_multiclass_string_labels(
    tmp_path: Path, frame, frame_cat, y_multi, lgbm_kw
):
    clf = lgb.LGBMClassifier(**lgbm_kw).fit(frame_cat, y_multi)
    m = load_model(save_model(clf, tmp_path / "m", input_example=frame.head()))
    assert m.task == "multiclass"
    assert m.classes == ["high", "low", "mid"]
    proba = m.predict_proba(frame)
    assert proba.shape == (len(frame), 3)
    assert np.array_equal(proba, clf.predict_proba(frame_cat))
    assert np.array_equal(m.predict(frame), clf.predict(frame_cat))
    assert set(m.predict(frame)) <= {"high", "low", "mid"}


def test_lgbm_regressor_round_trip(tmp_path: Path, frame, frame_cat, y_value, lgbm_kw) -> None:
    reg = lgb.LGBMRegressor(**lgbm_kw).fit(frame_cat, y_value)
    m = load_model(save_model(reg, tmp_path / "m", input_example=frame, metrics={"rmse": 0.5}))
    assert m.task == "regression" and m.classes is None
    _same(m.predict(frame), reg.predict(frame_cat))
    assert m.metrics == {"rmse": 0.5}
    with pytest.raises(InvalidInput, match="predict_proba needs a classifier"):
        m.predict_proba(frame)


def test_unseen_category_is_treated_as_missing(tmp_path: Path, frame, frame_cat, lgbm_binary):
    m = load_model(save_model(lgbm_binary, tmp_path / "m", input_example=frame.head()))
    unseen = frame.assign(c=["purple"] * 10 + list(frame["c"][10:]))
    missing = frame_cat.copy()
    missing.loc[:9, "c"] = np.nan
    assert np.array_equal(m.predict_proba(unseen), lgbm_binary.predict_proba(missing))


def test_lightgbm_string_column_without_categories_refused(
    tmp_path: Path, frame, y_binary, lgbm_kw
):
    numeric = frame[["x", "n"]].assign(c=frame["c"].map({"red": 0, "green": 1, "blue": 2}))
    clf = lgb.LGBMClassifier(**lgbm_kw).fit(numeric, y_binary)
    with pytest.raises(InvalidInput, match="not trained with pandas categorical"):
        save_model(clf, tmp_path / "m", input_example=frame[["x", "n", "c"]])
    assert not (tmp_path / "m").exists()


# --- XGBoost ------------------------------------------------------------------------------------


def test_xgboost_classifier_round_trip(tmp_path: Path, frame, frame_cat, y_binary) -> None:
    xgb = pytest.importorskip("xgboost")
    clf = xgb.XGBClassifier(
        n_estimators=15, max_depth=3, n_jobs=1, tree_method="hist", enable_categorical=True
    ).fit(frame_cat, y_binary)
    path = save_model(clf, tmp_path / "m", input_example=frame.head())
    assert (path / "model.json").is_file()
    m = load_model(path)
    assert (m.flavor, m.task, m.classes) == ("xgboost", "binary", [0, 1])
    assert np.array_equal(m.predict_proba(frame), clf.predict_proba(frame_cat))
    assert np.array_equal(m.predict(frame), clf.predict(frame_cat))
    # An unseen category is missing, not an XGBoost error.
    assert m.predict(frame.assign(c="purple")).shape == (len(frame),)


def test_xgboost_regressor_round_trip(tmp_path: Path, frame, y_value) -> None:
    xgb = pytest.importorskip("xgboost")
    numeric = frame[["x", "n", "b"]]
    reg = xgb.XGBRegressor(n_estimators=15, max_depth=3, n_jobs=1).fit(numeric, y_value)
    m = load_model(save_model(reg, tmp_path / "m"))  # signature from the booster's names
    assert m.signature.input_names == ["x", "n", "b"]
    assert np.array_equal(m.predict(frame), reg.predict(numeric))


def test_xgboost_missing_says_how_to_install(tmp_path: Path, frame, y_value, monkeypatch) -> None:
    xgb = pytest.importorskip("xgboost")
    numeric = frame[["x", "n"]]
    reg = xgb.XGBRegressor(n_estimators=3, n_jobs=1).fit(numeric, y_value)
    path = save_model(reg, tmp_path / "m")
    monkeypatch.setitem(sys.modules, "xgboost", None)  # as if the extra were not installed
    with pytest.raises(InvalidInput, match=r"pmle\[xgboost\]"):
        load_model(path)


# --- scikit-learn -------------------------------------------------------------------------------


def _pipeline() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["c"]),
            ("num", StandardScaler(), ["x", "n", "b"]),
        ]
    )
    return Pipeline([("pre", pre), ("lr", LogisticRegression(max_iter=200))])


def test_sklearn_pipeline_round_trip(tmp_path: Path, frame, y_multi) -> None:
    pipe = _pipeline().fit(frame, y_multi)
    path = save_model(pipe, tmp_path / "m", input_example=frame.head())
    assert (path / "model.skops").is_file()
    m = load_model(path)
    assert (m.flavor, m.task) == ("sklearn", "multiclass")
    assert m.classes == ["high", "low", "mid"]
    assert np.array_equal(m.predict_proba(frame), pipe.predict_proba(frame))
    assert np.array_equal(m.predict(frame), pipe.predict(frame))
    # Extra columns are ignored and the order is fixed from the signature.
    shuffled = frame[["b", "c", "n", "x"]].assign(extra=1)
    assert np.array_equal(m.predict(shuffled), pipe.predict(frame))


def test_sklearn_needs_an_input_example(tmp_path: Path, frame, y_binary) -> None:
    pipe = _pipeline().fit(frame, y_binary)
    with pytest.raises(InvalidInput, match="input_example"):
        save_model(pipe, tmp_path / "m")


def test_sklearn_signature_must_match_fitted_columns(tmp_path: Path, frame, y_binary) -> None:
    pipe = _pipeline().fit(frame, y_binary)
    with pytest.raises(InvalidInput, match="fitted on x, n, c, b"):
        save_model(pipe, tmp_path / "m", input_example=frame[["c", "x", "n", "b"]])


def _swap_skops(path: Path, obj: Any) -> None:
    import skops.io as sio

    (path / "model.skops").unlink()
    sio.dump(obj, path / "model.skops")


def test_untrusted_skops_type_refused_on_load(tmp_path: Path, frame, y_binary) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    path = save_model(_pipeline().fit(frame, y_binary), tmp_path / "m", input_example=frame)
    # A tampered file: a pipeline that would call os.system on its input.
    _swap_skops(path, make_pipeline(FunctionTransformer(os.system)))
    with pytest.raises(InvalidInput, match=r"untrusted types .*system"):
        load_model(path)


def test_numpy_functions_are_not_trusted(tmp_path: Path, frame, y_binary) -> None:
    from sklearn.preprocessing import FunctionTransformer

    path = save_model(_pipeline().fit(frame, y_binary), tmp_path / "m", input_example=frame)
    # numpy.load could unpickle a file: a function from a trusted package is still refused.
    _swap_skops(path, FunctionTransformer(np.load))
    with pytest.raises(InvalidInput, match="untrusted types"):
        load_model(path)


def test_save_refuses_what_cannot_be_loaded_safely(tmp_path: Path, frame, y_binary) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    pipe = make_pipeline(FunctionTransformer(double), LogisticRegression()).fit(
        frame[["x", "n"]], y_binary
    )
    with pytest.raises(InvalidInput, match="double"):
        save_model(pipe, tmp_path / "m", input_example=frame[["x", "n"]])
    assert not (tmp_path / "m").exists()


def test_lightgbm_inside_a_pipeline_loads(tmp_path: Path, frame, y_binary, lgbm_kw) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    pre = ColumnTransformer(
        [("cat", OrdinalEncoder(), ["c"])], remainder="passthrough", verbose_feature_names_out=False
    )
    pipe = Pipeline([("pre", pre), ("m", lgb.LGBMClassifier(**lgbm_kw))]).fit(frame, y_binary)
    m = load_model(save_model(pipe, tmp_path / "m", input_example=frame))
    assert m.flavor == "sklearn"
    assert np.array_equal(m.predict_proba(frame), pipe.predict_proba(frame))


# --- signatures and inputs ----------------------------------------------------------------------


def test_missing_columns_are_named(tmp_path: Path, frame, lgbm_binary) -> None:
    m = load_model(save_model(lgbm_binary, tmp_path / "m", input_example=frame))
    with pytest.raises(InvalidInput, match=r"missing column.*: n, b") as info:
        m.predict(frame[["x", "c"]])
    assert "x, n, c, b" in (info.value.hint or "")


def test_wrong_types_are_refused(tmp_path: Path, frame, lgbm_binary) -> None:
    m = load_model(save_model(lgbm_binary, tmp_path / "m", input_example=frame))
    with pytest.raises(InvalidInput, match="'x' must hold numbers"):
        m.predict(frame.assign(x="a lot"))
    with pytest.raises(InvalidInput, match="'c' must hold strings"):
        m.predict(frame.assign(c=1.5))


def test_rows_and_column_dicts_are_accepted(tmp_path: Path, frame, lgbm_binary) -> None:
    m = load_model(save_model(lgbm_binary, tmp_path / "m", input_example=frame))
    rows = frame.head(5).to_dict(orient="records")
    assert np.array_equal(m.predict(rows), m.predict(frame.head(5)))
    assert np.array_equal(m.predict(frame.head(5).to_dict(orient="list")), m.predict(rows))
    with pytest.raises(InvalidInput, match="expected a pandas DataFrame"):
        m.predict(np.zeros((2, 4)))


def test_explicit_signature_dict(tmp_path: Path, frame, frame_cat, y_value, lgbm_kw) -> None:
    reg = lgb.LGBMRegressor(**lgbm_kw).fit(frame_cat[["x", "n"]], y_value)
    sig = {"inputs": [{"name": "x", "type": "float"}, {"name": "n", "type": "integer"}]}
    m = load_model(save_model(reg, tmp_path / "m", signature=sig))
    assert m.signature.to_dict()["inputs"] == sig["inputs"]
    with pytest.raises(InvalidInput, match="signature has 1 input columns"):
        save_model(reg, tmp_path / "m2", signature={"inputs": [sig["inputs"][0]]})


# --- manifest and folder ------------------------------------------------------------------------


def test_manifest_contents(tmp_path: Path, frame, lgbm_binary) -> None:
    path = save_model(
        lgbm_binary,
        tmp_path / "m",
        input_example=frame,
        metrics={"auc": np.float64(0.91), "n": np.int64(3)},
        lineage={"inputs": [{"id": 1}]},
    )
    manifest = orjson.loads((path / MANIFEST_FILE).read_bytes())
    assert manifest["format_version"] == 1
    assert manifest["flavor"] == "lightgbm"
    assert manifest["task"] == "binary"
    assert manifest["classes"] == [0, 1]
    assert manifest["metrics"] == {"auc": 0.91, "n": 3}
    assert manifest["lineage"] == {"inputs": [{"id": 1}]}
    assert manifest["libraries"]["lightgbm"] == lgb.__version__
    assert manifest["libraries"]["python"].count(".") == 2
    assert manifest["created_at"].endswith("+00:00")
    assert read_manifest(path) == manifest
    assert sorted(p.name for p in path.iterdir()) == sorted([MANIFEST_FILE, "model.txt"])


def test_save_refuses_an_existing_folder(tmp_path: Path, frame, lgbm_binary) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("mine")
    with pytest.raises(AlreadyExists):
        save_model(lgbm_binary, tmp_path / "m", input_example=frame)
    (tmp_path / "empty").mkdir()
    save_model(lgbm_binary, tmp_path / "empty", input_example=frame)  # an empty folder is fine
    assert (tmp_path / "empty" / MANIFEST_FILE).is_file()


def test_save_refuses_what_is_not_a_model(tmp_path: Path, frame) -> None:
    with pytest.raises(InvalidInput, match=r"cannot save a builtins\.dict"):
        save_model({"not": "a model"}, tmp_path / "m")
    with pytest.raises(InvalidInput, match="not fitted"):
        save_model(lgb.LGBMClassifier(), tmp_path / "m", input_example=frame)
    with pytest.raises(InvalidInput, match="invalid task"):
        save_model(lgb.LGBMClassifier(), tmp_path / "m", task="clustering")


def test_task_conflict_is_refused(tmp_path: Path, frame, lgbm_binary) -> None:
    with pytest.raises(InvalidInput, match="binary model"):
        save_model(lgbm_binary, tmp_path / "m", input_example=frame, task="regression")


def test_read_manifest_errors(tmp_path: Path, frame, lgbm_binary) -> None:
    with pytest.raises(NotFound):
        read_manifest(tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    with pytest.raises(InvalidInput, match="not a pmle model folder"):
        load_model(tmp_path / "plain")
    path = save_model(lgbm_binary, tmp_path / "m", input_example=frame)
    manifest = read_manifest(path)
    (path / MANIFEST_FILE).write_bytes(orjson.dumps({**manifest, "format_version": 99}))
    with pytest.raises(InvalidInput, match="newer than this pmle"):
        load_model(path)
    (path / MANIFEST_FILE).write_bytes(orjson.dumps({**manifest, "flavor": "pickle"}))
    with pytest.raises(InvalidInput, match="unknown flavor"):
        load_model(path)
    (path / MANIFEST_FILE).write_bytes(orjson.dumps(manifest))
    (path / "model.txt").write_text("not a booster")
    with pytest.raises(InvalidInput, match="cannot read"):
        load_model(path)


def test_import_is_light() -> None:
    code = (
        "import sys, pmle.models, pmle.models.format, pmle.models.signature;"
        "heavy = {'lightgbm', 'pandas', 'sklearn', 'skops', 'xgboost', 'sqlalchemy'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_frame_reads_as_given(frame: pd.DataFrame) -> None:
    # Guard for the shared fixture: the string column must stay strings.
    assert not isinstance(frame["c"].dtype, pd.CategoricalDtype)


def test_booster_with_given_classes(tmp_path: Path, frame_cat, y_multi) -> None:
    codes = y_multi.map({"high": 0, "low": 1, "mid": 2})
    booster = lgb.train(
        {"objective": "multiclass", "num_class": 3, "num_threads": 1, "verbose": -1},
        lgb.Dataset(frame_cat, codes),
        num_boost_round=5,
    )
    with pytest.raises(InvalidInput, match="needs 3 classes"):
        save_model(booster, tmp_path / "bad", classes=["high", "low"])
    m = load_model(save_model(booster, tmp_path / "m", classes=["high", "low", "mid"]))
    proba = booster.predict(frame_cat)
    assert np.array_equal(m.predict_proba(frame_cat), proba)
    assert list(m.predict(frame_cat)) == list(np.array(["high", "low", "mid"])[proba.argmax(1)])
