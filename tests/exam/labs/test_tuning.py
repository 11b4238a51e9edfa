"""Lab tune-register: a default model registered as champion fails twice (not a best trial,
under the bar); a tuning study's best trial registered and aliased passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pmle.exam import labs
from pmle.exam.labs import tuning

SPACE = {
    "learning_rate": {"type": "double", "min": 0.01, "max": 0.3, "scale": "log"},
    "num_leaves": {"type": "integer", "min": 4, "max": 64},
    "min_child_samples": {"type": "integer", "min": 5, "max": 100},
}


def _features(frame: Any) -> Any:
    return frame.drop(columns=["defaulted"]).astype(
        {"purpose": "category", "home_ownership": "category"}
    )


def test_tune_register_lab(tmp_path: Path) -> None:
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    folder = tmp_path / "lab"
    ws = labs.start("tune-register", folder)
    fresh = labs.check("tune-register", folder)
    assert [c.passed for c in fresh] == [False] * 3
    assert "pmle tune create" in fresh[0].detail and "pmle tune register" in fresh[1].detail

    train, valid = ws.datasets.to_pandas(tuning.TRAIN), ws.datasets.to_pandas(tuning.VALID)
    # LightGBM on its defaults, registered by hand: under the bar, and no study made it
    default = lgb.LGBMClassifier(num_threads=1, verbose=-1).fit(_features(train), train.defaulted)
    ws.models.register(
        "loans", default, input_example=_features(train).head(), aliases=["champion"]
    )
    untuned = labs.check("tune-register", folder)
    assert [c.passed for c in untuned] == [False, False, False]
    assert "no study has a completed trial" in untuned[1].detail
    assert "loans@1: 0.8" in untuned[2].detail

    def objective(trial: Any) -> float:
        model = lgb.LGBMClassifier(n_estimators=100, num_threads=1, verbose=-1, **trial.params)
        with trial.run.autolog():
            model.fit(_features(train), train.defaulted)
        proba = np.asarray(model.predict_proba(_features(valid)))[:, 1]
        return float(roc_auc_score(valid.defaulted, proba))

    study = ws.tuning.create_study(
        "loans-lgbm", SPACE, metric="val_auc", max_trials=tuning.MIN_TRIALS, seed=1
    )
    study.optimize(objective)
    ref = study.register_best("loans")
    assert ref == "loans@2"
    registered = labs.check("tune-register", folder)
    assert [c.passed for c in registered] == [True, False, False]
    assert "it is not the model of a best trial" in registered[1].detail

    ws.models.set_alias(ref, "champion")
    solved = labs.check("tune-register", folder)
    assert all(c.passed for c in solved), solved
    assert f"loans@2: {study.best_trial.value:.4f}" in solved[2].detail  # the study's value
    ws.close()
