"""RANDOM_FOREST_CLASSIFIER and RANDOM_FOREST_REGRESSOR on LightGBM's random forest mode.

BigQuery ML trains a random forest as one XGBoost round of `num_parallel_tree` trees (default
100), each on a `subsample` of the rows (default 0.8) choosing among a `colsample_bynode`
share of the features at each split (default 0.8), `max_tree_depth` 15, `l2_reg` 1.0,
`min_tree_child_weight` 1; predictions average the trees. LightGBM's `boosting='rf'` is the
same construction — every tree fitted to the gradients at the initial score, with XGBoost's
regularisers (L1 / L2 on leaf values, minimum hessian per leaf, minimum split gain), bagging
and per-node feature sampling — and gives exact TreeSHAP and split / gain / cover importances,
which scikit-learn's forests (impurity splits, no leaf penalties) would not.
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

DEFAULT_TREES = 100
DEFAULT_DEPTH = 15
DEFAULT_SUBSAMPLE = 0.8
DEFAULT_BYNODE = 0.8


def lightgbm_params(options: Options, classes: list[Any] | None, rows: int) -> dict[str, Any]:
    """The LightGBM parameters of a RANDOM_FOREST model's options."""
    if int(options.get("num_parallel_tree", DEFAULT_TREES)) < 2:
        raise InvalidInput(
            "a random forest's num_parallel_tree is at least 2",
            hint=f"leave it out for BigQuery ML's default of {DEFAULT_TREES} trees",
        )
    depth = int(options.get("max_tree_depth", DEFAULT_DEPTH))
    params = common_params(options, depth, classes, rows)
    params.update(
        sampling_params(
            options,
            float(options.get("subsample", DEFAULT_SUBSAMPLE)),
            float(options.get("colsample_bynode", DEFAULT_BYNODE)),
        )
    )
    params["boosting"] = "rf"
    if params["bagging_freq"] == 0 and params["feature_fraction"] >= 1.0:
        # LightGBM's forests need row or tree-level column sampling: a bagging fraction just
        # under 1 satisfies it (each tree then sees every row but one)
        params.update(bagging_fraction=1.0 - 1e-9, bagging_freq=1)
    return params


def fit(
    train_rows: pd.DataFrame,
    evaluation: pd.DataFrame | None,
    options: Options,
    label: str,
    features: list[str],
) -> Fitted:
    """Grow `num_parallel_tree` trees (one BigQuery ML iteration) on `train_rows`."""
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
        int(options.get("num_parallel_tree", DEFAULT_TREES)),
        early_stop=False,
    )
    # one BigQuery ML iteration: the forest's curve is its final row
    last = dict(fitted.training_info[-1])
    last["iteration"] = 0
    last["learning_rate"] = None
    fitted.training_info = [last]
    fitted.extra["lightgbm_params"] = params
    fit_global_explain(fitted, options, label, features, scored_rows(train_rows, evaluation))
    return fitted
