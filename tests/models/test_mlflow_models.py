"""MLflow's model format: pmle models exported MLflow can load and serve with the same
predictions, imported back identically; MLflow's own models imported; pickles refused."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pmle.errors import InvalidInput
from pmle.models.mlflow_models import export_mlflow, import_mlflow, read_mlmodel
from pmle.workspace import Workspace

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(autouse=True)
def _mlflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # MLflow makes ./mlruns for its default store when models load: keep it in the test's folder
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


@pytest.fixture(scope="module")
def xy() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(11)
    x = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    return x, ((x.a - x.b + rng.normal(scale=0.3, size=300)) > 0).astype(int)


def test_lightgbm_round_trip(ws: Workspace, xy, tmp_path: Path) -> None:
    x, y = xy
    model = lgb.LGBMClassifier(n_estimators=25, verbose=-1).fit(x, y)
    ws.models.register("churn", model, input_example=x.head())
    folder = export_mlflow(ws, "churn@1", tmp_path / "exported")
    mlmodel = read_mlmodel(folder)
    assert {"lightgbm", "python_function"} <= set(mlmodel["flavors"])
    assert mlmodel["metadata"]["pmle_model"] == "churn@1"
    # MLflow itself loads it and scores as pmle does
    scores = np.asarray(mlflow.pyfunc.load_model(str(folder)).predict(x))
    np.testing.assert_array_equal(scores, ws.models.load("churn@1").predict_proba(x)[:, 1])
    back = import_mlflow(ws, folder, "churn_again")
    assert back.ref == "churn_again@1" and back.flavor == "lightgbm"
    original, again = ws.models.load("churn@1"), ws.models.load("churn_again@1")
    np.testing.assert_array_equal(again.predict_proba(x), original.predict_proba(x))
    np.testing.assert_array_equal(again.predict(x), original.predict(x))  # same class labels
    assert again.signature.input_names == ["a", "b", "c"]
    # the import is in the lineage graph, with where it came from
    producers = ws.lineage.producers(back.lineage_artifact_id)
    assert any(p.type == "ImportMLflow" for p in producers)
    with pytest.raises(InvalidInput, match="already exists"):
        export_mlflow(ws, "churn@1", folder)


def test_sklearn_round_trip_with_skops(ws: Workspace, xy, tmp_path: Path) -> None:
    x, y = xy
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=0.3)).fit(x, y)
    ws.models.register("glm", pipe, input_example=x.head())
    folder = export_mlflow(ws, "glm@1", tmp_path / "glm")
    assert read_mlmodel(folder)["flavors"]["sklearn"]["serialization_format"] == "skops"
    served = np.asarray(mlflow.pyfunc.load_model(str(folder)).predict(x))
    np.testing.assert_array_equal(served, pipe.predict(x))
    back = import_mlflow(ws, folder, "glm_again")
    np.testing.assert_array_equal(ws.models.load(back.ref).predict_proba(x), pipe.predict_proba(x))


def test_models_saved_by_mlflow(ws: Workspace, xy, tmp_path: Path) -> None:
    x, y = xy
    booster = lgb.train(
        {"objective": "binary", "verbose": -1}, lgb.Dataset(x, y), num_boost_round=10
    )
    signature = mlflow.models.infer_signature(x, booster.predict(x))
    mlflow.lightgbm.save_model(booster, str(tmp_path / "booster"), signature=signature)
    imported = import_mlflow(ws, tmp_path / "booster", "booster")
    np.testing.assert_array_equal(
        ws.models.load(imported.ref).predict_proba(x)[:, 1], booster.predict(x)
    )
    xgb = pytest.importorskip("xgboost")
    xmodel = xgb.XGBRegressor(n_estimators=8, max_depth=3).fit(x, x.a * 2)
    mlflow.xgboost.save_model(xmodel.get_booster(), str(tmp_path / "xgb"), model_format="json")
    imported = import_mlflow(ws, tmp_path / "xgb", "xgb")
    assert imported.flavor == "xgboost"
    np.testing.assert_allclose(
        ws.models.load(imported.ref).predict(x), xmodel.predict(x), rtol=1e-6
    )


def test_pickles_need_trust(ws: Workspace, xy, tmp_path: Path) -> None:
    x, y = xy
    model = LogisticRegression().fit(x, y)
    mlflow.sklearn.save_model(model, str(tmp_path / "pickled"), serialization_format="cloudpickle")
    with pytest.raises(InvalidInput, match="is a pickle, which can run code"):
        import_mlflow(ws, tmp_path / "pickled", "risky")
    trusted = import_mlflow(ws, tmp_path / "pickled", "risky", allow_pickle=True)
    np.testing.assert_array_equal(ws.models.load(trusted.ref).predict(x), model.predict(x))
    with pytest.raises(InvalidInput, match="not an MLflow model folder"):
        import_mlflow(ws, tmp_path, "nothing")
