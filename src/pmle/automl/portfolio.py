"""The portfolio: configurations that have proven strong across many tabular data sets, tried in
priority order so that a small budget is spent on the likeliest winners first.

Gradient-boosted trees (LightGBM) come first and dominate; extremely randomised trees, a random
forest and a linear model follow because they err differently and so add to the ensemble.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Config:
    """A candidate model configuration."""

    name: str
    family: str  # lightgbm | extra_trees | random_forest | linear
    params: dict[str, Any] = field(default_factory=dict)


_LGBM_BASE: dict[str, Any] = {
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "bagging_fraction": 1.0,
    "bagging_freq": 0,
    "lambda_l1": 0.0,
    "lambda_l2": 0.0,
    "extra_trees": False,
    "cat_smooth": 10.0,
    "cat_l2": 10.0,
    "max_cat_to_onehot": 4,
    "min_data_per_group": 100,
}


_FOREST: dict[str, Any] = {
    "n_estimators": 100,
    "max_features": "sqrt",  # classification; regression uses max_features_regression
    "max_features_regression": 0.6,
    "min_samples_leaf": 5,
}


def _lgbm(name: str, **overrides: Any) -> Config:
    return Config(name, "lightgbm", {**_LGBM_BASE, **overrides})


PORTFOLIO: tuple[Config, ...] = (
    _lgbm("lgbm"),
    _lgbm("lgbm_xt", extra_trees=True, feature_fraction=0.8),
    # Only when the optional catboost package is installed.
    Config("catboost", "catboost", {"learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0}),
    _lgbm(
        "lgbm_small",
        learning_rate=0.05,
        num_leaves=15,
        min_data_in_leaf=50,
        feature_fraction=0.7,
        lambda_l2=1.0,
        bagging_fraction=0.8,
        bagging_freq=1,
    ),
    # Few leaves under heavy L2: often best on small, noisy tables (credit scoring and alike).
    _lgbm(
        "lgbm_l2",
        learning_rate=0.1,
        num_leaves=8,
        min_data_in_leaf=40,
        lambda_l2=100.0,
        feature_fraction=0.9,
        max_bin=127,
    ),
    _lgbm(
        "lgbm_large",
        learning_rate=0.03,
        num_leaves=128,
        min_data_in_leaf=3,
        feature_fraction=0.9,
        min_data_per_group=50,
        cat_smooth=5.0,
    ),
    _lgbm(
        "lgbm_deep",
        learning_rate=0.04,
        num_leaves=200,
        max_depth=10,
        min_data_in_leaf=30,
        feature_fraction=0.5,
        lambda_l1=0.1,
        lambda_l2=1.0,
    ),
    Config("extra_trees", "extra_trees", _FOREST),
    _lgbm(
        "lgbm_regularized",
        learning_rate=0.02,
        num_leaves=48,
        min_data_in_leaf=40,
        feature_fraction=0.6,
        bagging_fraction=0.7,
        bagging_freq=1,
        lambda_l1=1.0,
        lambda_l2=5.0,
        cat_l2=20.0,
        cat_smooth=20.0,
    ),
    Config("random_forest", "random_forest", _FOREST),
    Config("linear", "linear", {"C": 1.0}),
    _lgbm(
        "lgbm_xt_large",
        extra_trees=True,
        learning_rate=0.03,
        num_leaves=96,
        min_data_in_leaf=5,
        feature_fraction=0.6,
    ),
)


def tuning_distributions() -> dict[str, Any]:
    """The LightGBM settings Optuna tunes, and their ranges."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    return {
        "learning_rate": FloatDistribution(0.01, 0.3, log=True),
        "num_leaves": IntDistribution(4, 256, log=True),
        "min_data_in_leaf": IntDistribution(2, 200, log=True),
        "feature_fraction": FloatDistribution(0.4, 1.0),
        "bagging_fraction": FloatDistribution(0.5, 1.0),
        "lambda_l1": FloatDistribution(1e-8, 10.0, log=True),
        "lambda_l2": FloatDistribution(1e-8, 300.0, log=True),
        "extra_trees": CategoricalDistribution([False, True]),
        "cat_smooth": FloatDistribution(1.0, 50.0, log=True),
    }


def tuned_config(sampled: dict[str, Any]) -> dict[str, Any]:
    """A full LightGBM configuration from sampled settings."""
    return {**_LGBM_BASE, "bagging_freq": 1, **sampled}


def clip_to_space(params: dict[str, Any], space: dict[str, Any]) -> dict[str, Any]:
    """A portfolio configuration expressed inside the tuning ranges (to warm-start Optuna)."""
    out: dict[str, Any] = {}
    for name, dist in space.items():
        value = params.get(name, _LGBM_BASE.get(name))
        if hasattr(dist, "choices"):
            out[name] = value if value in dist.choices else dist.choices[0]
        else:
            clipped = min(max(value, dist.low), dist.high)
            out[name] = round(clipped) if isinstance(dist.low, int) else float(clipped)
    return out
