"""DNN_CLASSIFIER and DNN_REGRESSOR through SQL, against scikit-learn MLPs fitted directly with
the same settings; defaults, early stopping, the registry, options it cannot honour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.sqlml.families.dnn import default_hidden_units
from pmle.workspace import Workspace

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
CATEGORICAL = ["island", "sex"]


def _design(frame: pd.DataFrame) -> np.ndarray:
    """Standardised numerics (NULL → mean), then one-hot strings (sorted categories)."""
    x = frame[NUMERIC].astype("float64")
    x = ((x - x.mean()) / x.std(ddof=1)).fillna(0.0)
    parts = [x.to_numpy()]
    for column in CATEGORICAL:
        parts.append(pd.get_dummies(frame[column]).to_numpy(dtype="float64"))
    return np.hstack(parts)


def test_classifier_matches_sklearn_mlp(penguins_ws: Workspace) -> None:
    from sklearn.neural_network import MLPClassifier

    ws = penguins_ws
    columns = ", ".join(NUMERIC + CATEGORICAL)
    ws.sql(
        "CREATE MODEL net OPTIONS(model_type='DNN_CLASSIFIER', input_label_cols=['species'], "
        "hidden_units=[16, 8], activation_fn='tanh', learn_rate=0.01, batch_size=32, "
        f"max_iterations=40, early_stop=FALSE) AS SELECT species, {columns} FROM penguins"
    )
    out = ws.sql("SELECT * FROM ML.PREDICT(MODEL net, TABLE penguins)").to_pandas()
    frame = ws.datasets.to_pandas("penguins")
    x = _design(frame)
    reference = MLPClassifier(
        hidden_layer_sizes=(16, 8),
        activation="tanh",
        solver="adam",
        alpha=0.0,
        batch_size=32,
        learning_rate_init=0.01,
        random_state=np.random.RandomState(0),
    )
    for _ in range(40):  # one epoch per call, one random stream
        reference.partial_fit(x, frame["species"], classes=["Adelie", "Chinstrap", "Gentoo"])
    expected = reference.predict_proba(x)
    got = np.array(
        [
            [{p["label"]: p["prob"] for p in row}[c] for c in reference.classes_]
            for row in out["predicted_species_probs"]
        ]
    )
    assert np.allclose(got, expected, atol=1e-10)
    assert (out["predicted_species"] == reference.predict(x)).all()
    info = ws.sql("SELECT * FROM ML.TRAINING_INFO(MODEL net)").to_pandas()
    assert len(info) == 40 and info["learning_rate"].eq(0.01).all()
    assert info["loss"].iloc[-1] < info["loss"].iloc[0] / 5
    # the registry reads the skops file back: the same probabilities
    assert np.allclose(ws.models.load("net").predict_proba(frame), expected, atol=1e-10)


def test_regressor_l2_and_early_stop(penguins_ws: Workspace) -> None:
    from sklearn.neural_network import MLPRegressor

    ws = penguins_ws
    columns = ", ".join(NUMERIC + CATEGORICAL)
    ws.sql(
        "CREATE MODEL mass OPTIONS(model_type='DNN_REGRESSOR', input_label_cols=['kg'], "
        "hidden_units=[8], learn_rate=0.01, batch_size=32, l2_reg=0.001, max_iterations=200, "
        "min_rel_progress=0.001) AS "
        f"SELECT body_mass_g / 1000 AS kg, {columns} FROM penguins WHERE body_mass_g IS NOT NULL"
    )
    info = ws.sql("SELECT * FROM ML.TRAINING_INFO(MODEL mass)").to_pandas()
    # fewer than 500 rows: no evaluation split; early stopping watches the training loss
    progress = -np.diff(info["loss"]) / info["loss"].to_numpy()[:-1]
    assert len(info) < 200 and progress[-1] < 0.001 and (progress[:-1] >= 0.001).all()
    frame = ws.datasets.to_pandas("penguins").dropna(subset=["body_mass_g"])
    x = _design(frame)
    reference = MLPRegressor(
        hidden_layer_sizes=(8,),
        alpha=2 * 0.001 * 32,  # TensorFlow's l2_reg · Σw² on the batch mean loss
        batch_size=32,
        learning_rate_init=0.01,
        random_state=np.random.RandomState(0),
    )
    for _ in range(len(info)):
        reference.partial_fit(x, frame["body_mass_g"] / 1000)
    out = ws.sql(
        "SELECT * FROM ML.PREDICT(MODEL mass, (SELECT * EXCLUDE (body_mass_g) FROM penguins "
        "WHERE body_mass_g IS NOT NULL))"
    ).to_pandas()
    assert np.allclose(out["predicted_kg"], reference.predict(x), rtol=1e-9)
    r2 = ws.sql("SELECT * FROM ML.EVALUATE(MODEL mass)").to_pandas()["r2_score"][0]
    assert r2 > 0.7


def test_defaults_and_unsupported_options(penguins_ws: Workspace) -> None:
    ws = penguins_ws
    ws.sql(
        "CREATE MODEL small OPTIONS(model_type='DNN_CLASSIFIER', input_label_cols=['species']) "
        "AS SELECT species, bill_length_mm, bill_depth_mm FROM penguins"
    )
    native = ws.models.load("small").native
    # BigQuery ML's default: one layer of min(128, N / (10 (Ni + No))) units
    assert native.extra["mlp_params"]["hidden_layer_sizes"] == [344 // (10 * (2 + 3))]
    assert default_hidden_units(10**6, 10, 1) == [128]
    assert native.extra["mlp_params"]["learning_rate_init"] == 0.001
    assert native.extra["mlp_params"]["batch_size"] == 32  # min(32, N)
    assert len(native.training_info) <= 20
    for option, value in (("activation_fn", "'ELU'"), ("optimizer", "'ADAGRAD'"), ("dropout", 0.2)):
        with pytest.raises(InvalidInput, match=option):
            ws.sql(
                f"CREATE MODEL bad OPTIONS(model_type='DNN_REGRESSOR', {option}={value}, "
                "input_label_cols=['body_mass_g']) AS SELECT * FROM penguins "
                "WHERE body_mass_g IS NOT NULL"
            )
