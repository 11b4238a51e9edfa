"""The ML.* table functions (:func:`table_function`): each call's result as a DataFrame, with
BigQuery ML's column names.

ML.PREDICT, ML.EVALUATE, ML.CONFUSION_MATRIX, ML.ROC_CURVE, ML.TRAINING_INFO and ML.WEIGHTS
are answered here for every model they apply to; family-specific functions (ML.CENTROIDS,
ML.FEATURE_IMPORTANCE, ML.FORECAST, …) by the model's family module (`ML_<NAME>`).
ML.PREDICT also takes any registry model (AutoML, imported): its output is
`predicted_<target>` (and `predicted_<target>_probs` for classifiers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from pmle.sqlml.engine import SqlSession
    from pmle.sqlml.parse import MLCall

__all__ = ["CallArgs", "table_function"]


@dataclass
class CallArgs:
    """An ML call's arguments sorted out: the model, the input rows, the settings STRUCT."""

    function: str
    model_ref: str | None
    rows: pd.DataFrame | None
    settings: dict[str, Any] = field(default_factory=dict)
    values: list[Any] = field(default_factory=list)
    tables: list[pd.DataFrame] = field(default_factory=list)

    def setting(self, name: str, default: Any = None) -> Any:
        return self.settings.get(name, default)


def _args(
    session: SqlSession, con: duckdb.DuckDBPyConnection, call: MLCall, prefix: str | None
) -> CallArgs:
    model_ref = None
    tables: list[pd.DataFrame] = []
    settings: dict[str, Any] = {}
    values: list[Any] = []
    for arg in call.args:
        if arg.kind == "model":
            model_ref = arg.value
        elif arg.kind == "table":
            tables.append(session.frame(con, f"SELECT * FROM {arg.value}", prefix))
        elif arg.kind == "query":
            tables.append(session.frame(con, arg.value, prefix))
        elif arg.kind == "struct":
            if not isinstance(arg.value, dict):
                raise InvalidInput(
                    f"ML.{call.function}'s settings are STRUCT(value AS name, ...)",
                    hint="e.g. STRUCT(0.55 AS threshold)",
                )
            settings.update(arg.value)
        else:
            values.append(arg.value)
    rows = tables[0] if tables else None
    return CallArgs(call.function, model_ref, rows, settings, values, tables)


def table_function(
    session: SqlSession, con: duckdb.DuckDBPyConnection, call: MLCall, prefix: str | None
) -> pd.DataFrame:
    """The result of one ML.* call."""
    from pmle.sqlml.model import SqlModel, family_module

    args = _args(session, con, call, prefix)
    name = call.function
    if name == "VALIDATE_DATA_DRIFT":
        from pmle.sqlml.validate import validate_data_drift

        return validate_data_drift(args)
    if args.model_ref is None:
        raise InvalidInput(f"ML.{name} needs MODEL name as its first argument")
    model = session.model(args.model_ref)
    if name == "VALIDATE_DATA_SKEW":
        from pmle.sqlml.validate import validate_data_skew

        return validate_data_skew(session, args, model)
    if not isinstance(model, SqlModel):
        if name == "PREDICT":
            return _predict_registry(model, _need_rows(args))
        if name in {"EVALUATE", "CONFUSION_MATRIX", "ROC_CURVE"} and args.rows is not None:
            return _evaluate_registry(model, args)
        raise InvalidInput(
            f"ML.{name} needs a model made by CREATE MODEL; {args.model_ref} is a "
            f"{model.flavor} model",
            hint="ML.PREDICT works with every registry model",
        )
    module = family_module(model.family)
    own = getattr(module, f"ML_{name}", None)
    if own is not None:
        return own(model, args)
    generic = _GENERIC.get(name)
    if generic is None and name in _ELSEWHERE:
        import importlib

        where, attr = _ELSEWHERE[name]
        generic = getattr(importlib.import_module(where), attr)
    if generic is None:
        raise InvalidInput(f"ML.{name} does not apply to a {model.model_type} model")
    return generic(model, args)


def _need_rows(args: CallArgs) -> pd.DataFrame:
    if args.rows is None:
        raise InvalidInput(
            f"ML.{args.function} needs input rows: TABLE name or (SELECT ...)",
            hint=f"e.g. ML.{args.function}(MODEL m, TABLE t)",
        )
    return args.rows


def _predict(model: Any, args: CallArgs) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    rows = _need_rows(args)
    out = model.predict_output(rows)
    threshold = args.setting("threshold")
    if threshold is not None:
        if model.classes is None or len(model.classes) != 2:
            raise InvalidInput("STRUCT(threshold) applies to binary classifiers only")
        proba = model.predict_proba(rows)
        pick = np.where(proba[:, 1] >= float(threshold), 1, 0)
        out[out.columns[0]] = [model.classes[i] for i in pick]
    return pd.concat(
        [out, rows.drop(columns=[c for c in out.columns if c in rows.columns])], axis=1
    )


def _predict_registry(loaded: Any, rows: pd.DataFrame) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.families.common import probs_column

    target = loaded.target or "label"
    name = f"predicted_{target}"
    out: dict[str, Any] = {}
    if loaded.task in {"binary", "multiclass"}:
        proba = np.asarray(loaded.predict_proba(rows))
        classes = list(loaded.classes or range(proba.shape[1]))
        out[name] = [classes[i] for i in np.argmax(proba, axis=1)]
        out[f"{name}_probs"] = probs_column(proba, classes)
    else:
        out[name] = np.asarray(loaded.predict(rows))
    frame = pd.DataFrame(out, index=rows.index)
    return pd.concat(
        [frame, rows.drop(columns=[c for c in frame.columns if c in rows.columns])], axis=1
    )


def _evaluate_registry(loaded: Any, args: CallArgs) -> pd.DataFrame:
    """ML.EVALUATE / CONFUSION_MATRIX / ROC_CURVE of any registry model on given rows (its
    label column is the model's recorded target)."""
    import numpy as np
    import pandas as pd

    from pmle.sqlml import metrics

    rows = _need_rows(args)
    target = loaded.target
    if target is None or target not in rows.columns:
        raise InvalidInput(
            f"ML.{args.function} needs the label column {target or '(unknown)'!r} in the rows",
            hint="the model's target column must be among the evaluation rows",
        )
    y = rows[target].to_numpy()
    threshold = float(args.setting("threshold", 0.5))
    if loaded.task in {"binary", "multiclass"}:
        proba = np.asarray(loaded.predict_proba(rows))
        classes = list(loaded.classes or range(proba.shape[1]))
        if args.function == "CONFUSION_MATRIX":
            return pd.DataFrame(metrics.confusion_matrix(y, proba, classes, threshold))
        if args.function == "ROC_CURVE":
            if len(classes) != 2:
                raise InvalidInput("ML.ROC_CURVE needs a binary classifier")
            return pd.DataFrame(metrics.roc_curve(y, proba, classes))
        return pd.DataFrame([metrics.classification_metrics(y, proba, classes, threshold)])
    if args.function != "EVALUATE":
        raise InvalidInput(f"ML.{args.function} needs a classifier")
    return pd.DataFrame([metrics.regression_metrics(y, np.asarray(loaded.predict(rows)))])


def _evaluation(model: Any, args: CallArgs) -> dict[str, Any]:
    """The model's stored evaluation, or one on the given rows / threshold."""
    from pmle.sqlml.model import family_module
    from pmle.sqlml.train import evaluate_supervised

    threshold = args.setting("threshold")
    if args.rows is None and threshold is None:
        return model.evaluation
    if model.label is None:
        evaluate = getattr(family_module(model.family), "evaluate", None)
        if evaluate is None or args.rows is None:
            return model.evaluation
        from pmle.sqlml.options import Options

        options = Options(model.model_type, model.family, model.options)
        return dict(evaluate(model.estimator, model.prepare(args.rows), None, options))
    if args.rows is None:
        raise InvalidInput("STRUCT(threshold) needs the evaluation rows: TABLE name or (query)")
    return evaluate_supervised(
        model, args.rows, threshold=float(threshold) if threshold is not None else 0.5
    )


def _evaluate(model: Any, args: CallArgs) -> pd.DataFrame:
    import pandas as pd

    metrics = dict(_evaluation(model, args).get("metrics") or {})
    return pd.DataFrame([metrics])


def _confusion_matrix(model: Any, args: CallArgs) -> pd.DataFrame:
    import pandas as pd

    if model.classes is None:
        raise InvalidInput(f"ML.CONFUSION_MATRIX needs a classifier; {model.model_type} is not")
    return pd.DataFrame(_evaluation(model, args).get("confusion_matrix") or [])


def _roc_curve(model: Any, args: CallArgs) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    from pmle.sqlml import metrics

    if model.classes is None or len(model.classes) != 2:
        raise InvalidInput("ML.ROC_CURVE needs a binary classifier")
    thresholds = next((v for v in args.values if isinstance(v, list)), None)
    if args.rows is None and thresholds is None:
        return pd.DataFrame(model.evaluation.get("roc_curve") or [])
    if args.rows is None:
        raise InvalidInput("ML.ROC_CURVE with thresholds needs the evaluation rows")
    from pmle.sqlml.train import labelled

    rows, y = labelled(model, args.rows)
    proba = np.asarray(model.estimator.predict_proba(rows))
    return pd.DataFrame(metrics.roc_curve(y, proba, model.classes, thresholds))


def _training_info(model: Any, args: CallArgs) -> pd.DataFrame:
    import pandas as pd

    columns = ["training_run", "iteration", "loss", "eval_loss", "learning_rate", "duration_ms"]
    return pd.DataFrame(model.training_info, columns=columns)


def _weights(model: Any, args: CallArgs) -> pd.DataFrame:
    import pandas as pd

    if model.family != "linear":
        raise InvalidInput(f"ML.WEIGHTS applies to linear models, not {model.model_type}")
    est = model.estimator
    coef, intercept = est.weights(bool(args.setting("standardize", False)))
    names = est.encoding.names
    classes = model.classes if model.classes is not None and coef.shape[0] > 1 else [None]
    rows: list[dict[str, Any]] = []
    for k, klass in enumerate(classes):
        by_column: dict[str, dict[str, Any]] = {}
        for j, (column, category) in enumerate(names):
            entry = by_column.setdefault(
                column, {"processed_input": column, "weight": None, "category_weights": []}
            )
            if category is None:
                entry["weight"] = float(coef[k, j])
            else:
                entry["category_weights"].append(
                    {"category": category, "weight": float(coef[k, j])}
                )
        intercept_row = {
            "processed_input": "__INTERCEPT__",
            "weight": float(intercept[k]),
            "category_weights": [],
        }
        for entry in [*by_column.values(), intercept_row]:
            if klass is not None:
                entry = {"class_label": klass, **entry}
            rows.append(entry)
    return pd.DataFrame(rows)


_GENERIC = {
    "PREDICT": _predict,
    "EVALUATE": _evaluate,
    "CONFUSION_MATRIX": _confusion_matrix,
    "ROC_CURVE": _roc_curve,
    "TRAINING_INFO": _training_info,
    "WEIGHTS": _weights,
}

#: Functions for every supervised model, answered by other modules.
_ELSEWHERE = {
    "EXPLAIN_PREDICT": ("pmle.sqlml.explain", "explain_predict"),
    "GLOBAL_EXPLAIN": ("pmle.sqlml.explain", "global_explain"),
    "FEATURE_IMPORTANCE": ("pmle.sqlml.explain", "feature_importance"),
}
