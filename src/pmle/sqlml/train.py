"""CREATE MODEL's training: the query's rows → TRANSFORM → label and features → split → the
family's fit → evaluation (:func:`train_model`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.model import SqlModel
    from pmle.sqlml.options import Options
    from pmle.sqlml.parse import CreateModel

__all__ = ["CODED_FAMILIES", "evaluate_supervised", "labelled", "train_model"]

#: families whose encodings (one-hot, label codes) read text features as categories: theirs
#: are dictionary-encoded once before the split (selecting rows of text is the slow part)
CODED_FAMILIES = frozenset({"linear", "boosted_tree", "random_forest", "dnn"})


def _duck_types(frame: pd.DataFrame) -> dict[str, str]:
    import duckdb

    con = duckdb.connect()
    try:
        con.register("__t", frame)
        return {r[0]: str(r[1]) for r in con.sql("DESCRIBE SELECT * FROM __t").fetchall()}
    finally:
        con.close()


def train_model(
    stmt: CreateModel, options: Options, frame: pd.DataFrame
) -> tuple[SqlModel, pd.DataFrame]:
    """Train the model a CREATE MODEL describes on the rows of its query; the model and a few
    input rows (for the registry's signature)."""
    from pmle.sqlml.encoding import as_categories
    from pmle.sqlml.model import SqlModel, family_module
    from pmle.sqlml.split import split_mask
    from pmle.sqlml.validate import STATS_KEY, training_statistics

    if frame.empty:
        raise InvalidInput(f"the training query of {stmt.name} returned no rows")
    _refuse_unsupported(options)
    split_col = options.get("data_split_col")
    label = options.label_cols[0] if options.supervised else None
    raw_columns = [c for c in frame.columns if c != split_col]
    transform = None
    data = frame
    if stmt.transform is not None:
        import duckdb

        from pmle.sqlml.transform import compile_transform

        con = duckdb.connect()
        try:
            con.register("__pmle_train", frame)
            transform = compile_transform(stmt.transform, con, "__pmle_train", stmt.source)
        finally:
            con.close()
        data = transform.apply(frame)
        if split_col is not None and split_col in frame.columns:
            data[split_col] = frame[split_col].to_numpy()
    if label is not None:
        if label not in data.columns:
            where = "the TRANSFORM output" if transform is not None else "the training query"
            raise InvalidInput(
                f"label column {label!r} is missing from {where}",
                hint=f"columns: {', '.join(map(str, data.columns))}; set input_label_cols",
            )
        keep = data[label].notna().to_numpy()
        if not keep.all():  # rows without a label do not train (no copy when all have one)
            data, frame = data[keep], frame[keep]
        if data.empty:
            raise InvalidInput(f"every row of the training query has a NULL {label!r}")
        if not options.classifier and not _numeric(data[label]):
            raise InvalidInput(
                f"{options.model_type} predicts a number, but label column {label!r} holds "
                f"{data[label].dtype} values",
                hint="use a *_CLASSIFIER or LOGISTIC_REG model for labels that are categories",
            )
    features = [c for c in data.columns if c not in {label, split_col}]
    if not features and options.family not in {"arima_plus", "matrix_factorization"}:
        raise InvalidInput(f"{stmt.name}: the training query has no feature columns")
    inputs_frame = frame[[c for c in raw_columns if c != label]]
    inputs = _duck_types(inputs_frame)
    # supervised models hold rows out (AutoML searches on the training rows only, too); matrix
    # factorization when a data_split_method asks (BigQuery ML's default for it is NO_SPLIT);
    # k-means, PCA and ARIMA_PLUS train on every row (a split would tear a time series apart)
    held_out = options.supervised or (
        options.family == "matrix_factorization"
        and options.get("data_split_method", "NO_SPLIT") != "NO_SPLIT"
    )
    mask = split_mask(data, options) if held_out else None
    if mask is not None and options.family in CODED_FAMILIES:
        data = as_categories(data, [c for c in features if c != label])
    train = data if mask is None else data[~mask]
    evaluation = None if mask is None else data[mask]
    module = family_module(options.family)
    fitted = module.fit(train, evaluation, options, label, features)
    model = SqlModel(
        model_type=options.model_type,
        family=options.family,
        options=options.given,
        label=label,
        inputs=inputs,
        features=features,
        estimator=fitted.estimator,
        transform=transform,
        classes=fitted.classes,
        training_info=fitted.training_info,
        extra={**fitted.extra, STATS_KEY: training_statistics(inputs_frame, inputs)},
    )
    scored = evaluation if evaluation is not None else train
    evaluate = getattr(module, "evaluate", None)
    if evaluate is not None:
        model.evaluation = evaluate(fitted.estimator, scored, label, options)
    elif label is not None:
        model.evaluation = evaluate_supervised(model, scored, prepared=True)
    model.evaluation["split"] = "evaluation" if evaluation is not None else "training"
    model.evaluation["rows"] = len(scored)
    return model, inputs_frame.head(10)


def _refuse_unsupported(options: Options) -> None:
    """Options asking for what pmle does not do are errors, not silently ignored. (Options
    that only steer BigQuery ML's optimiser — max_iterations, learn_rate, ... — are accepted
    for linear models, which are solved to convergence.)"""
    asked = [n for n in ("warm_start", "calculate_p_values") if options.given.get(n) is True]
    encoding = options.given.get("category_encoding_method")
    if options.family == "linear" and encoding not in (None, "ONE_HOT_ENCODING"):
        asked.append(f"category_encoding_method={encoding}")
    if asked:
        raise InvalidInput(
            f"{options.model_type} here does not support {', '.join(asked)}",
            hint="leave the option(s) out",
        )


def _numeric(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series)) and not pd.api.types.is_bool_dtype(series)


def labelled(
    model: SqlModel, frame: pd.DataFrame, *, prepared: bool = False
) -> tuple[pd.DataFrame, np.ndarray]:
    """`frame` through the model's TRANSFORM and its labels — as the TRANSFORM computes them
    when it outputs the label; InvalidInput when the rows hold no label."""
    label = model.label
    assert label is not None
    rows = frame if prepared else model.prepare(frame)
    source = rows if label in rows.columns else frame
    if label not in source.columns:
        raise InvalidInput(
            f"the evaluation rows lack the label column {label!r}",
            hint="evaluation rows need the label the model was trained to predict",
        )
    return rows, source[label].to_numpy()


def evaluate_supervised(
    model: SqlModel, frame: pd.DataFrame, *, prepared: bool = False, threshold: float = 0.5
) -> dict[str, Any]:
    """Metrics (and, for classifiers, the confusion matrix and ROC curve) of a supervised
    SqlModel on `frame`'s rows (`prepared`: already through the TRANSFORM)."""
    import numpy as np

    from pmle.sqlml import metrics

    rows, y = labelled(model, frame, prepared=prepared)
    label = model.label
    assert label is not None
    if model.classes is None:
        pred = model.estimator.predict_output(rows, label).iloc[:, 0].to_numpy()
        return {"metrics": metrics.regression_metrics(y, pred)}
    proba = np.asarray(model.estimator.predict_proba(rows))
    out: dict[str, Any] = {
        "metrics": metrics.classification_metrics(y, proba, model.classes, threshold),
        "confusion_matrix": metrics.confusion_matrix(y, proba, model.classes, threshold),
    }
    if len(model.classes) == 2:
        out["roc_curve"] = metrics.roc_curve(y, proba, model.classes)
    return out
