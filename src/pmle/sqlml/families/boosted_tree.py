"""BOOSTED_TREE_CLASSIFIER and BOOSTED_TREE_REGRESSOR on LightGBM.

BigQuery ML's defaults (XGBoost): `max_iterations` 20 boosting rounds, `learn_rate` 0.3,
`max_tree_depth` 6, `l1_reg` 0, `l2_reg` 1.0, `subsample` 1.0, `min_tree_child_weight` 1,
`colsample_bytree` / `colsample_bylevel` / `colsample_bynode` 1.0, `min_split_loss` 0,
`num_parallel_tree` 1, `booster_type` GBTREE, `early_stop` TRUE with `min_rel_progress` 0.01,
categoricals label-encoded. See :func:`pmle.sqlml.families.trees.common_params` for how each
maps onto LightGBM. `booster_type='DART'` is LightGBM's DART with `drop_rate = dropout`
(default 0, as XGBoost's `rate_drop`); `num_parallel_tree > 1` (XGBoost's boosted random
forests) has no LightGBM counterpart and is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.sqlml.families.common import scored_rows
from pmle.sqlml.families.trees import (
    TreeEstimator,
    common_params,
    load,
    sampling_params,
    train,
)

if TYPE_CHECKING:
    import pandas as pd

    from pmle.sqlml.families.common import Fitted
    from pmle.sqlml.options import Options

__all__ = ["TreeEstimator", "fit", "lightgbm_params", "load"]

DEFAULT_DEPTH = 6
DEFAULT_ROUNDS = 20
DEFAULT_LEARN_RATE = 0.3


def lightgbm_params(options: Options, classes: list[Any] | None, rows: int) -> dict[str, Any]:
    """The LightGBM parameters of a BOOSTED_TREE model's options."""
    if int(options.get("num_parallel_tree", 1)) != 1:
        raise InvalidInput(
            "num_parallel_tree > 1 (boosted random forests) is not supported for boosted trees",
            hint="use model_type='RANDOM_FOREST_...' for a forest, or num_parallel_tree=1",
        )
    depth = int(options.get("max_tree_depth", DEFAULT_DEPTH))
    params = common_params(options, depth, classes, rows)
    params.update(
        sampling_params(
            options,
            float(options.get("subsample", 1.0)),
            float(options.get("colsample_bynode", 1.0)),
        )
    )
    params["learning_rate"] = float(options.get("learn_rate", DEFAULT_LEARN_RATE))
    if options.get("booster_type", "GBTREE") == "DART":
        params["boosting"] = "dart"
        params["drop_rate"] = float(options.get("dropout", 0.0))
        params["xgboost_dart_mode"] = options.get("dart_normalize_type", "TREE") == "FOREST"
    else:
        params["boosting"] = "gbdt"
    return params


def fit(
    train_rows: pd.DataFrame,
    evaluation: pd.DataFrame | None,
    options: Options,
    label: str,
    features: list[str],
) -> Fitted:
    """Boost `max_iterations` rounds of trees on `train_rows`, stopping early."""
    from pmle.sqlml.explain import fit_global_explain
    from pmle.sqlml.families.common import class_labels

    classes = class_labels(train_rows[label], options.model_type) if options.classifier else None
    params = lightgbm_params(options, classes, len(train_rows))
    fitted = train(
        train_rows,
        evaluation,
        options,
        label,
        features,
        params,
        int(options.get("max_iterations", DEFAULT_ROUNDS)),
        early_stop=bool(options.get("early_stop", True)) and params["boosting"] != "dart",
    )
    fitted.extra["lightgbm_params"] = params
    fit_global_explain(fitted, options, label, features, scored_rows(train_rows, evaluation))
    return fitted
