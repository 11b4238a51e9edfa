"""DNN_CLASSIFIER and DNN_REGRESSOR on scikit-learn's multi-layer perceptron.

Inputs are encoded as BigQuery ML does for DNNs (:class:`~pmle.sqlml.encoding.OneHot`:
standardised numerics, one-hot strings). BigQuery ML's defaults: `hidden_units` one layer of
min(128, N / (10 (Ni + No))) units (N training rows, Ni inputs, No outputs), `activation_fn`
RELU, `optimizer` ADAM with `learn_rate` 0.001, `batch_size` min(32, N), `dropout` 0,
`l1_reg` / `l2_reg` 0, `max_iterations` 20 epochs, `early_stop` TRUE with `min_rel_progress`
0.01 (on the evaluation rows when there are some, else the training rows).

scikit-learn's MLP covers RELU / SIGMOID / TANH and ADAM / SGD, an L2 penalty and sample
weights; it has no dropout, L1 penalty, RELU6 / CRELU / ELU / SELU, ADAGRAD / FTRL / RMSPROP:
those are refused with an error naming the option. TensorFlow's `l2_reg · Σw²` added to the
batch's mean loss is scikit-learn's `alpha = 2 · l2_reg · batch_size`. Epochs run one at a time
(`partial_fit`, one random stream across the epochs, so each epoch shuffles the rows anew) so
that the curve is recorded and training stops as BigQuery ML stops. The network is
saved with skops, never pickle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.sqlml.encoding import OneHot
from pmle.sqlml.families.common import Fitted, class_labels, probs_column

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.options import Options

__all__ = ["DnnEstimator", "fit", "load", "mlp_params"]

FILE = "dnn.skops"
ACTIVATIONS = {"RELU": "relu", "SIGMOID": "logistic", "TANH": "tanh"}
OPTIMIZERS = {"ADAM": "adam", "SGD": "sgd"}
#: BigQuery ML's batch_size: 32 rows, or all of them when fewer
DEFAULT_BATCH = 32
DEFAULT_EPOCHS = 20
DEFAULT_LEARN_RATE = 0.001


@dataclass
class DnnEstimator:
    """An MLP over :class:`OneHot`-encoded features."""

    encoding: OneHot
    network: Any  # MLPClassifier | MLPRegressor (classes are class indexes)
    classes: list[Any] | None = None

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        return np.asarray(self.network.predict_proba(self.encoding.matrix(frame)))

    def predict_output(self, frame: pd.DataFrame, label: str | None) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        name = f"predicted_{label}"
        if self.classes is None:
            values = np.asarray(self.network.predict(self.encoding.matrix(frame)), dtype="float64")
            return pd.DataFrame({name: values.reshape(-1)}, index=frame.index)
        proba = self.predict_proba(frame)
        labels = [self.classes[i] for i in np.argmax(proba, axis=1)]
        return pd.DataFrame(
            {name: labels, f"{name}_probs": probs_column(proba, self.classes)}, index=frame.index
        )

    def save(self, directory: Path) -> dict[str, Any]:
        from pmle.models.flavors.sklearn_flavor import dump_checked

        dump_checked(self.network, directory / FILE)
        return {"encoding": self.encoding.to_dict(), "classes": self.classes}


def load(directory: Path, state: dict[str, Any]) -> DnnEstimator:
    """A DnnEstimator written by `save` (skops, trusting scikit-learn / NumPy types only)."""
    from pmle.models.flavors.sklearn_flavor import load_checked

    network = load_checked(directory / FILE)
    return DnnEstimator(OneHot.from_dict(state["encoding"]), network, state.get("classes"))


def default_hidden_units(rows: int, inputs: int, outputs: int) -> list[int]:
    """BigQuery ML's default: one layer of min(128, N / (10 (Ni + No))) units (at least 1)."""
    return [max(1, min(128, rows // (10 * (inputs + outputs))))]


def mlp_params(options: Options, rows: int, inputs: int, outputs: int) -> dict[str, Any]:
    """scikit-learn MLP parameters of a DNN model's options (see the module docstring)."""
    activation = options.get("activation_fn", "RELU")
    if activation not in ACTIVATIONS:
        raise InvalidInput(
            f"activation_fn {activation!r} is not supported by pmle's DNN (scikit-learn MLP)",
            hint=f"use one of {', '.join(ACTIVATIONS)}",
        )
    optimizer = options.get("optimizer", "ADAM")
    if optimizer not in OPTIMIZERS:
        raise InvalidInput(
            f"optimizer {optimizer!r} is not supported by pmle's DNN (scikit-learn MLP)",
            hint=f"use one of {', '.join(OPTIMIZERS)}",
        )
    for name in ("dropout", "l1_reg"):
        if float(options.get(name, 0.0)) > 0:
            raise InvalidInput(
                f"option {name!r} is not supported by pmle's DNN (scikit-learn MLP has none)",
                hint=f"leave {name} out (0) or use l2_reg",
            )
    hidden = options.get("hidden_units") or default_hidden_units(rows, inputs, outputs)
    if any(int(h) < 1 for h in hidden):
        raise InvalidInput(f"hidden_units must be positive, got {hidden!r}")
    batch = int(options.get("batch_size", min(DEFAULT_BATCH, rows)))
    return {
        "hidden_layer_sizes": tuple(int(h) for h in hidden),
        "activation": ACTIVATIONS[activation],
        "solver": OPTIMIZERS[optimizer],
        "alpha": 2.0 * float(options.get("l2_reg", 0.0)) * min(batch, rows),
        "batch_size": batch,
        "learning_rate_init": float(options.get("learn_rate", DEFAULT_LEARN_RATE)),
        "shuffle": True,
    }


def fit(
    train: pd.DataFrame,
    evaluation: pd.DataFrame | None,
    options: Options,
    label: str,
    features: list[str],
) -> Fitted:
    """Train the network epoch by epoch on `train`, stopping early as BigQuery ML does."""
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from pmle.sqlml.explain import baseline_instance, fit_global_explain
    from pmle.sqlml.families.common import scored_rows
    from pmle.sqlml.families.trees import label_codes, row_weights

    started = time.perf_counter()
    encoding = OneHot.fit(train, features)
    x = encoding.matrix(train)
    classes = class_labels(train[label], options.model_type) if options.classifier else None
    outputs = 1 if classes is None or len(classes) == 2 else len(classes)
    params = mlp_params(options, len(x), x.shape[1], outputs)
    rng = np.random.RandomState(0)  # one stream across the epochs: each shuffles anew
    weight = None
    if classes is not None:
        y = label_codes(train[label], classes)
        weight = row_weights(options, classes, y)
        network: Any = MLPClassifier(**params, random_state=rng)
    else:
        y = train[label].astype("float64").to_numpy()
        network = MLPRegressor(**params, random_state=rng)
    ex = ey = None
    if evaluation is not None:
        ex = encoding.matrix(evaluation)
        if classes is not None:
            ey = label_codes(evaluation[label], classes)
            ex, ey = ex[ey >= 0], ey[ey >= 0]
        else:
            ey = evaluation[label].astype("float64").to_numpy()
    epochs = int(options.get("max_iterations", DEFAULT_EPOCHS))
    early = bool(options.get("early_stop", True))
    min_rel = float(options.get("min_rel_progress", 0.01))
    curve: list[dict[str, Any]] = []
    codes = np.arange(len(classes)) if classes is not None else None
    for epoch in range(epochs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if codes is not None:
                network.partial_fit(x, y, sample_weight=weight, classes=codes)
            else:
                network.partial_fit(x, y, sample_weight=weight)
        loss = _loss(network, x, y, classes)
        eval_loss = _loss(network, ex, ey, classes) if ex is not None and len(ex) else None
        curve.append(
            {
                "training_run": 0,
                "iteration": epoch,
                "loss": loss,
                "eval_loss": eval_loss,
                "learning_rate": params["learning_rate_init"],
                "duration_ms": int((time.perf_counter() - started) * 1000),
            }
        )
        if early and len(curve) > 1:
            key = "eval_loss" if eval_loss is not None else "loss"
            before, now = curve[-2][key], curve[-1][key]
            if before > 0 and (before - now) / before < min_rel:
                break
    network.random_state = 0  # a plain seed is what skops stores
    estimator = DnnEstimator(encoding, network, classes)
    extra: dict[str, Any] = {
        "mlp_params": {**params, "hidden_layer_sizes": list(params["hidden_layer_sizes"])},
        "epochs": len(curve),
    }
    extra["baseline"] = baseline_instance(train, features)
    fitted = Fitted(estimator, classes, curve, extra)
    fit_global_explain(fitted, options, label, features, scored_rows(train, evaluation))
    return fitted


def _loss(network: Any, x: Any, y: Any, classes: list[Any] | None) -> float:
    """Log loss (classifiers) or mean squared error of the network on (x, y)."""
    import numpy as np

    if classes is None:
        return float(np.mean((network.predict(x).reshape(-1) - y) ** 2))
    proba = np.clip(network.predict_proba(x), 1e-15, 1.0)
    return float(-np.mean(np.log(proba[np.arange(len(y)), y])))
