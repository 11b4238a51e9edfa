"""Autologging: what scikit-learn, LightGBM and XGBoost fits record, and only inside the
block, in the thread that opened it."""

from __future__ import annotations

import threading

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pmle.workspace import Workspace


@pytest.fixture(scope="module")
def xy() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.normal(size=(400, 4)), columns=["a", "b", "c", "d"])
    y = ((x.a + 0.5 * x.b + rng.normal(scale=0.5, size=400)) > 0).astype(int)
    return x, y


def test_lightgbm_classifier(ws: Workspace, xy) -> None:
    x, y = xy
    with ws.tracking.start_run("auto", "lgbm") as run, run.autolog(register="churn"):
        model = lgb.LGBMClassifier(n_estimators=15, learning_rate=0.2, verbose=-1)
        model.fit(x[:300], y[:300], eval_X=(x[300:],), eval_y=(y[300:],))
    info = ws.tracking.run("auto/lgbm")
    assert info.params["estimator"] == "LGBMClassifier"
    assert info.params["n_estimators"] == "15" and info.params["learning_rate"] == "0.2"
    curve = ws.tracking.metric_history(info.id, "valid_0_binary_logloss")
    assert [p.step for p in curve] == list(range(15))
    proba = model.predict_proba(x[:300])[:, 1]
    assert info.metrics["training_roc_auc"] == pytest.approx(metrics.roc_auc_score(y[:300], proba))
    assert info.metrics["training_accuracy"] == pytest.approx(
        metrics.accuracy_score(y[:300], model.predict(x[:300]))
    )
    assert [a["path"] for a in info.artifacts] == ["model"]
    # registered with lineage from the run, and predicting as the fitted model does
    version = ws.models.get("churn@1")
    assert "→ churn@1" in info.inputs and info.tags["pmle.model"] == "churn@1"
    loaded = ws.models.load("churn@1")
    assert np.allclose(loaded.predict_proba(x[300:]), model.predict_proba(x[300:]))
    assert version.flavor == "lightgbm"


def test_lightgbm_train_and_booster_artifact(ws: Workspace, xy) -> None:
    x, y = xy
    params = {"objective": "binary", "learning_rate": 0.1, "num_leaves": 7, "verbose": -1}
    with ws.tracking.start_run("auto", "booster") as run, run.autolog():
        booster = lgb.train(
            params,
            lgb.Dataset(x[:300], y[:300]),
            num_boost_round=50,
            valid_sets=[lgb.Dataset(x[300:], y[300:])],
            valid_names=["held"],
            callbacks=[lgb.early_stopping(5, verbose=False)],
        )
    info = ws.tracking.run("auto/booster")
    assert info.params["num_leaves"] == "7" and info.params["num_boost_round"] == "50"
    curve = ws.tracking.metric_history(info.id, "held_binary_logloss")
    assert len(curve) == booster.best_iteration + 5  # every round: the best, then 5 more
    assert info.metrics["best_iteration"] == booster.best_iteration
    key = next(a["key"] for a in info.artifacts if a["path"] == "model/lightgbm.txt")
    again = lgb.Booster(model_str=ws.artifacts.get_bytes(key).decode())
    assert np.allclose(again.predict(x), booster.predict(x))


def test_xgboost(ws: Workspace, xy) -> None:
    xgb = pytest.importorskip("xgboost")
    x, y = xy
    with ws.tracking.start_run("auto", "xgb") as run, run.autolog():
        model = xgb.XGBClassifier(n_estimators=12, max_depth=3, eval_metric="logloss")
        model.fit(x[:300], y[:300], eval_set=[(x[300:], y[300:])], verbose=False)
    info = ws.tracking.run("auto/xgb")
    assert info.params["estimator"] == "XGBClassifier" and info.params["max_depth"] == "3"
    assert len(ws.tracking.metric_history(info.id, "validation_0-logloss")) == 12
    assert "training_roc_auc" in info.metrics
    with ws.tracking.start_run("auto", "xgb-train") as run, run.autolog():
        booster = xgb.train(
            {"objective": "binary:logistic", "max_depth": 2},
            xgb.DMatrix(x[:300], label=y[:300]),
            num_boost_round=8,
            evals=[(xgb.DMatrix(x[300:], label=y[300:]), "held")],
            verbose_eval=False,
        )
    info = ws.tracking.run("auto/xgb-train")
    assert info.params["max_depth"] == "2" and info.params["num_boost_round"] == "8"
    assert len(ws.tracking.metric_history(info.id, "held-logloss")) == 8
    assert any(a["path"] == "model/xgboost.json" for a in info.artifacts)
    assert booster.num_boosted_rounds() == 8


def test_sklearn_pipeline_logs_once(ws: Workspace, xy) -> None:
    x, y = xy
    with ws.tracking.start_run("auto", "pipe") as run, run.autolog():
        pipe = make_pipeline(StandardScaler(), LogisticRegression(C=0.5)).fit(x, y)
    info = ws.tracking.run("auto/pipe")
    assert info.params["estimator"] == "Pipeline"
    assert info.params["logisticregression__C"] == "0.5"  # the steps' params, deep
    assert info.metrics["training_accuracy"] == pytest.approx(pipe.score(x, y))
    with ws.tracking.start_run("auto", "ridge") as run, run.autolog(models=False):
        ridge = Ridge(alpha=2.0).fit(x, x.a * 3 + x.b)
    info = ws.tracking.run("auto/ridge")
    assert info.metrics["training_r2"] == pytest.approx(ridge.score(x, x.a * 3 + x.b))
    assert info.artifacts == []  # models=False


def test_only_inside_the_block_and_its_thread(ws: Workspace, xy) -> None:
    x, y = xy
    other = ws.tracking.start_run("auto", "untouched")
    ready, done = threading.Event(), threading.Event()

    def elsewhere() -> None:
        ready.wait()
        LogisticRegression().fit(x, y)  # another thread: not inside anyone's autolog
        done.set()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    with ws.tracking.start_run("auto", "scoped") as run, run.autolog(models=False):
        ready.set()
        done.wait(30)
        Ridge().fit(x, y)
    thread.join()
    LogisticRegression().fit(x, y)  # after the block: not logged
    other.end()
    assert ws.tracking.run("auto/scoped").params["estimator"] == "Ridge"
    assert ws.tracking.run("auto/untouched").params == {}
    # a failure to log is a warning; the fit still happens
    with ws.tracking.start_run("auto", "twice") as run, run.autolog(models=False):
        Ridge(alpha=1.0).fit(x, y)
        second = Ridge(alpha=9.0).fit(x, y)  # params are set once per run: not logged
    assert second.coef_ is not None
    assert ws.tracking.run("auto/twice").params["alpha"] == "1.0"
