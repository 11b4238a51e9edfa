"""Explainable AI for SQL models: ML.EXPLAIN_PREDICT, ML.GLOBAL_EXPLAIN and
ML.FEATURE_IMPORTANCE, with BigQuery ML's column names.

Attributions are per *model feature*: the columns the estimator reads, i.e. the TRANSFORM's
outputs when the model has a TRANSFORM, else the training query's columns (a one-hot encoded
string column is one feature: its categories' parts are summed). Methods, by family:

- boosted trees and random forests: exact TreeSHAP (LightGBM's `pred_contrib`), in raw-score
  space; the baseline is the expected score over the training rows;
- linear models: exact `w · (x − baseline)`, the baseline being the training mean of each
  numeric feature and no category of each string feature (the encoded zero vector);
- DNN and AutoML models: sampled Shapley (Vertex AI's method, pmle's implementation in
  :mod:`pmle.monitoring.attributions`, 10 paths) against a baseline instance of the training
  rows (median of numbers, most frequent value otherwise), on the predicted value or the
  predicted class's probability; `approximation_error` estimates its sampling error.

For classifiers the explained output is that of the predicted class: its logit (the raw score;
for two classes the log-odds of that class) for exact methods, its probability for sampled
Shapley. `prediction_value − baseline_prediction_value` is the sum of all the attributions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.families.common import Fitted
    from pmle.sqlml.functions import CallArgs
    from pmle.sqlml.model import SqlModel
    from pmle.sqlml.options import Options

__all__ = [
    "Attributions",
    "attributions",
    "baseline_instance",
    "explain_predict",
    "feature_importance",
    "fit_global_explain",
    "global_explain",
]

#: BigQuery ML's default `top_k_features`.
DEFAULT_TOP_K = 5
PATH_COUNT = 10
#: Rows a global explanation averages over at most (a deterministic sample beyond).
GLOBAL_ROWS = 2000
_TREES = {"boosted_tree", "random_forest"}
_SAMPLED = {"dnn", "automl"}


@dataclass
class Attributions:
    """Attributions of n rows for each model output (one per class, or one value)."""

    features: list[str]
    values: np.ndarray  # (n, outputs, features)
    baseline: np.ndarray  # (n, outputs)
    output: np.ndarray  # (n, outputs)
    error: np.ndarray | None  # (n, outputs), sampled Shapley only
    method: str


def baseline_instance(frame: pd.DataFrame, features: list[str]) -> dict[str, Any]:
    """Vertex AI's default baseline: the median of numeric columns, the most frequent value of
    the others (JSON-able)."""
    import pandas as pd

    from pmle.sqlml.encoding import is_categorical, numeric_values
    from pmle.sqlml.families.common import python_value

    out: dict[str, Any] = {}
    for column in features:
        series = frame[column].dropna()
        if series.empty:
            out[column] = None
        elif is_categorical(series) or pd.api.types.is_bool_dtype(series):
            out[column] = python_value(series.value_counts().index[0])
        else:
            import numpy as np

            out[column] = float(np.median(numeric_values(series)))
    return out


def attributions(model: SqlModel, rows: pd.DataFrame) -> Attributions:
    """Attributions of `rows` (already through the TRANSFORM) for every output."""
    if model.label is None:
        raise InvalidInput(f"explanations need a supervised model; {model.model_type} is not")
    if model.family in _TREES:
        phi, bias, scores = model.estimator.contributions(rows)
        return _two_sided(model, Attributions(model.features, phi, bias, scores, None, "tree"))
    if model.family == "linear":
        return _two_sided(model, _linear(model, rows))
    if model.family in _SAMPLED:
        return _sampled(model, rows)
    raise InvalidInput(f"explanations do not apply to a {model.model_type} model")


def _two_sided(model: SqlModel, attr: Attributions) -> Attributions:
    """A binary classifier's one log-odds score as two outputs: class 0's is its negation."""
    import numpy as np

    if model.classes is not None and len(model.classes) == 2 and attr.values.shape[1] == 1:
        attr.values = np.concatenate([-attr.values, attr.values], axis=1)
        attr.baseline = np.concatenate([-attr.baseline, attr.baseline], axis=1)
        attr.output = np.concatenate([-attr.output, attr.output], axis=1)
    return attr


def _linear(model: SqlModel, rows: pd.DataFrame) -> Attributions:
    import numpy as np

    est = model.estimator
    enc = est.encoding
    x = enc.matrix(rows)
    base = np.zeros(x.shape[1])
    if not enc.standardize:
        base[: len(enc.numeric)] = enc.means
    coef = np.asarray(est.coef, dtype="float64")  # (outputs, encoded)
    parts = (x - base)[:, None, :] * coef[None, :, :]  # (n, outputs, encoded)
    owner = {name: j for j, name in enumerate(model.features)}
    index = np.array([owner[column] for column, _ in enc.names], dtype="int64")
    values = np.zeros((len(x), coef.shape[0], len(model.features)))
    for j, owner_j in enumerate(index):
        values[:, :, owner_j] += parts[:, :, j]
    baseline = np.broadcast_to(base @ coef.T + est.intercept, (len(x), coef.shape[0])).copy()
    output = x @ coef.T + est.intercept
    return Attributions(model.features, values, baseline, output, None, "exact")


class _Adapter:
    """A SqlModel seen as the registry model that pmle's sampled Shapley explains."""

    flavor = "sqlml"

    def __init__(self, model: SqlModel) -> None:
        self.model = model
        self.task = model.task
        self.classes = model.classes
        self.signature = self

    @property
    def input_names(self) -> list[str]:
        return self.model.features

    def prepare(self, data: Any, categorical: bool = False) -> pd.DataFrame:
        return data[self.model.features].reset_index(drop=True)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.estimator.predict_proba(frame)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        out = self.model.estimator.predict_output(frame, self.model.label)
        return out.iloc[:, 0].to_numpy()


def _sampled(model: SqlModel, rows: pd.DataFrame) -> Attributions:
    from pmle.monitoring.attributions import sampled_shapley

    baseline = model.extra.get("baseline")
    if baseline is None:
        raise InvalidInput(f"this {model.model_type} model has no stored explanation baseline")
    adapter: Any = _Adapter(model)
    out = sampled_shapley(adapter, rows, baseline, path_count=PATH_COUNT)
    return Attributions(
        out.features,
        out.values,
        out.baseline_output,
        out.instance_output,
        out.error,
        "sampled_shapley",
    )


def _chosen(model: SqlModel, rows: pd.DataFrame, attr: Attributions, threshold: Any) -> Any:
    """The explained output of each row: the predicted class (or the only output)."""
    import numpy as np

    n = attr.values.shape[0]
    if model.classes is None:
        return np.zeros(n, dtype=int)
    proba = np.asarray(model.estimator.predict_proba(rows))
    if threshold is not None:
        if len(model.classes) != 2:
            raise InvalidInput("STRUCT(threshold) applies to binary classifiers only")
        return np.where(proba[:, 1] >= float(threshold), 1, 0)
    return proba.argmax(axis=1)


def explain_predict(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """ML.EXPLAIN_PREDICT: ML.PREDICT's columns (classifiers: `predicted_<label>` and
    `probability`), `top_feature_attributions` ([{feature, attribution}], the `top_k_features`
    largest in absolute value, default 5), `baseline_prediction_value`, `prediction_value`,
    `approximation_error`, then the input columns."""
    import numpy as np
    import pandas as pd

    rows = args.rows
    if rows is None:
        raise InvalidInput(
            "ML.EXPLAIN_PREDICT needs input rows: TABLE name or (SELECT ...)",
            hint="e.g. ML.EXPLAIN_PREDICT(MODEL m, TABLE t, STRUCT(3 AS top_k_features))",
        )
    top_k = args.setting("top_k_features", DEFAULT_TOP_K)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InvalidInput(f"top_k_features must be a positive whole number, got {top_k!r}")
    prepared = model.prepare(rows)
    attr = attributions(model, prepared)
    pick = _chosen(model, prepared, attr, args.setting("threshold"))
    n = len(prepared)
    at = np.arange(n)
    values = attr.values[at, pick]  # (n, features)
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :top_k]
    name = f"predicted_{model.label}"
    out: dict[str, Any] = {}
    if model.classes is None:
        out[name] = model.estimator.predict_output(prepared, model.label).iloc[:, 0].to_numpy()
    else:
        proba = np.asarray(model.estimator.predict_proba(prepared))
        out[name] = [model.classes[k] for k in pick]
        out["probability"] = proba[at, pick]
    out["top_feature_attributions"] = [
        [{"feature": attr.features[j], "attribution": float(values[i, j])} for j in order[i]]
        for i in range(n)
    ]
    out["baseline_prediction_value"] = attr.baseline[at, pick]
    out["prediction_value"] = attr.output[at, pick]
    out["approximation_error"] = attr.error[at, pick] if attr.error is not None else 0.0
    frame = pd.DataFrame(out, index=rows.index)
    return pd.concat([frame, rows.drop(columns=[c for c in out if c in rows.columns])], axis=1)


def _global_rows(model: SqlModel, prepared: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Mean absolute attribution per feature, over the rows' predicted outputs ("overall")
    and for each class over all rows ("classes")."""
    import numpy as np

    if len(prepared) > GLOBAL_ROWS:
        step = len(prepared) / GLOBAL_ROWS
        prepared = prepared.iloc[[int(i * step) for i in range(GLOBAL_ROWS)]]
    attr = attributions(model, prepared)
    pick = _chosen(model, prepared, attr, None)
    chosen = np.abs(attr.values[np.arange(len(pick)), pick]).mean(axis=0)
    overall: list[dict[str, Any]] = [
        {"feature": f, "attribution": float(v)} for f, v in zip(attr.features, chosen, strict=True)
    ]
    overall.sort(key=lambda r: -float(r["attribution"]))
    per_class: list[dict[str, Any]] = []
    for k, label in enumerate(model.classes or []):
        means = np.abs(attr.values[:, k, :]).mean(axis=0)
        block = [
            {"class_label": label, "feature": f, "attribution": float(v)}
            for f, v in zip(attr.features, means, strict=True)
        ]
        per_class.extend(sorted(block, key=lambda r: -float(r["attribution"])))
    return {"overall": overall, "classes": per_class}


def fit_global_explain(
    fitted: Fitted, options: Options, label: str, features: list[str], rows: pd.DataFrame
) -> None:
    """With `enable_global_explain=TRUE`, store the global explanation of a just-fitted model
    on `rows` (its evaluation rows, else its training rows) in `fitted.extra`."""
    from pmle.sqlml.model import SqlModel

    if not options.get("enable_global_explain", False):
        return
    model = SqlModel(
        model_type=options.model_type,
        family=options.family,
        options=options.given,
        label=label,
        inputs={},
        features=features,
        estimator=fitted.estimator,
        classes=fitted.classes,
        extra=fitted.extra,
    )
    fitted.extra["global_explain"] = _global_rows(model, rows)


def global_explain(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """ML.GLOBAL_EXPLAIN: `feature`, `attribution` (mean absolute attribution), largest first;
    with STRUCT(TRUE AS class_level_explain) one block per class (`class_label` first). As in
    BigQuery ML the model must be created with `enable_global_explain=TRUE`; pmle also takes
    rows to explain (ML.GLOBAL_EXPLAIN(MODEL m, TABLE t)) for any supervised model."""
    import pandas as pd

    stored: dict[str, Any] | None
    if args.rows is not None:
        stored = _global_rows(model, model.prepare(args.rows))
    else:
        stored = model.extra.get("global_explain")
        if stored is None:
            raise InvalidInput(
                f"ML.GLOBAL_EXPLAIN needs a model created with enable_global_explain=TRUE; "
                f"{args.model_ref} was not",
                hint="recreate it with OPTIONS(..., enable_global_explain=TRUE), or pass rows: "
                "ML.GLOBAL_EXPLAIN(MODEL m, TABLE t)",
            )
    if args.setting("class_level_explain", False):
        if model.classes is None:
            raise InvalidInput("class_level_explain applies to classifiers only")
        return pd.DataFrame(stored["classes"], columns=["class_label", "feature", "attribution"])
    return pd.DataFrame(stored["overall"], columns=["feature", "attribution"])


def feature_importance(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """ML.FEATURE_IMPORTANCE of a boosted tree or random forest: `feature`,
    `importance_weight` (splits on it), `importance_gain` (their mean gain) and
    `importance_cover` (their mean hessian cover), by gain."""
    import pandas as pd

    if model.family not in _TREES:
        raise InvalidInput(
            f"ML.FEATURE_IMPORTANCE applies to boosted tree and random forest models, "
            f"not {model.model_type}",
            hint="ML.GLOBAL_EXPLAIN explains any supervised model",
        )
    columns = ["feature", "importance_weight", "importance_gain", "importance_cover"]
    return pd.DataFrame(model.estimator.importance(), columns=columns)
