"""Model types and their OPTIONS, as BigQuery ML documents them: what each type accepts, of
which type, with which default (:func:`check_options`). An unknown option, one the model type
does not take, or a value of the wrong type or outside its choices is an error naming it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from pmle.sqlml.lexer import syntax_error

__all__ = ["FAMILIES", "MODEL_TYPES", "Options", "check_options"]

#: model_type → family (the trainer that fits it).
MODEL_TYPES = {
    "LINEAR_REG": "linear",
    "LOGISTIC_REG": "linear",
    "BOOSTED_TREE_CLASSIFIER": "boosted_tree",
    "BOOSTED_TREE_REGRESSOR": "boosted_tree",
    "RANDOM_FOREST_CLASSIFIER": "random_forest",
    "RANDOM_FOREST_REGRESSOR": "random_forest",
    "DNN_CLASSIFIER": "dnn",
    "DNN_REGRESSOR": "dnn",
    "AUTOML_CLASSIFIER": "automl",
    "AUTOML_REGRESSOR": "automl",
    "KMEANS": "kmeans",
    "PCA": "pca",
    "MATRIX_FACTORIZATION": "matrix_factorization",
    "ARIMA_PLUS": "arima_plus",
}
FAMILIES = frozenset(MODEL_TYPES.values())
SUPERVISED = frozenset({"linear", "boosted_tree", "random_forest", "dnn", "automl"})
#: matrix factorization splits only when asked (its default is NO_SPLIT)
_SPLITTING = SUPERVISED - {"automl"} | {"matrix_factorization"}
_ITERATIVE = frozenset({"linear", "boosted_tree", "random_forest", "dnn", "kmeans"})


@dataclass(frozen=True)
class _Opt:
    kind: str  # str | int | float | bool | str_list | int_list | any
    families: frozenset[str]
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


def _o(kind: str, families: Any, *choices: str, lo: float | None = None, hi: float | None = None):
    return _Opt(kind, frozenset(families), tuple(choices), lo, hi)


_ALL = FAMILIES
_TREES = {"boosted_tree", "random_forest"}
_SPEC: dict[str, _Opt] = {
    "model_type": _o("str", _ALL, *MODEL_TYPES),
    "input_label_cols": _o("str_list", SUPERVISED),
    "data_split_method": _o("str", _SPLITTING, "AUTO_SPLIT", "RANDOM", "CUSTOM", "SEQ", "NO_SPLIT"),
    "data_split_eval_fraction": _o("float", _SPLITTING, lo=0.0, hi=1.0),
    "data_split_col": _o("str", _SPLITTING),
    # a random forest is one iteration (BigQuery ML documents no max_iterations for it)
    "max_iterations": _o("int", _ITERATIVE - {"random_forest"} | {"matrix_factorization"}, lo=1),
    "early_stop": _o("bool", _ITERATIVE | {"matrix_factorization"}),
    "min_rel_progress": _o("float", _ITERATIVE | {"matrix_factorization"}, lo=0.0),
    "learn_rate": _o("float", {"linear", "boosted_tree", "dnn"}, lo=0.0),
    "learn_rate_strategy": _o("str", {"linear"}, "LINE_SEARCH", "CONSTANT"),
    "ls_init_learn_rate": _o("float", {"linear"}, lo=0.0),
    "l1_reg": _o("float", {"linear", "boosted_tree", "random_forest", "dnn"}, lo=0.0),
    "l2_reg": _o(
        "float", {"linear", "boosted_tree", "random_forest", "dnn", "matrix_factorization"}, lo=0
    ),
    "optimize_strategy": _o(
        "str", {"linear"}, "AUTO_STRATEGY", "BATCH_GRADIENT_DESCENT", "NORMAL_EQUATION"
    ),
    "warm_start": _o("bool", _ITERATIVE - {"random_forest"}),
    "auto_class_weights": _o("bool", SUPERVISED - {"automl"}),
    "class_weights": _o("any", SUPERVISED - {"automl"}),
    "enable_global_explain": _o("bool", SUPERVISED),
    "calculate_p_values": _o("bool", {"linear"}),
    "fit_intercept": _o("bool", {"linear"}),
    "category_encoding_method": _o(
        "str",
        {"linear", "boosted_tree", "random_forest"},
        "ONE_HOT_ENCODING",
        "DUMMY_ENCODING",
        "LABEL_ENCODING",
        "TARGET_ENCODING",
    ),
    # trees
    "max_tree_depth": _o("int", _TREES, lo=1, hi=20),
    "subsample": _o("float", _TREES, lo=0.0, hi=1.0),
    "num_parallel_tree": _o("int", _TREES, lo=1),
    "booster_type": _o("str", {"boosted_tree"}, "GBTREE", "DART"),
    "tree_method": _o("str", _TREES, "AUTO", "EXACT", "APPROX", "HIST"),
    "min_tree_child_weight": _o("float", _TREES, lo=0.0),
    "colsample_bytree": _o("float", _TREES, lo=0.0, hi=1.0),
    "colsample_bylevel": _o("float", _TREES, lo=0.0, hi=1.0),
    "colsample_bynode": _o("float", _TREES, lo=0.0, hi=1.0),
    "min_split_loss": _o("float", _TREES, lo=0.0),
    "dart_normalize_type": _o("str", {"boosted_tree"}, "TREE", "FOREST"),
    # DNN
    "hidden_units": _o("int_list", {"dnn"}),
    "activation_fn": _o("str", {"dnn"}, "RELU", "RELU6", "CRELU", "ELU", "SELU", "SIGMOID", "TANH"),
    "batch_size": _o("int", {"dnn"}, lo=1),
    "dropout": _o("float", {"dnn", "boosted_tree"}, lo=0.0, hi=1.0),  # DART's drop rate
    "optimizer": _o("str", {"dnn"}, "ADAGRAD", "ADAM", "FTRL", "RMSPROP", "SGD"),
    # AutoML
    "budget_hours": _o("float", {"automl"}, lo=0.0, hi=72.0),
    "optimization_objective": _o("str", {"automl"}),
    # k-means
    "num_clusters": _o("int", {"kmeans"}, lo=2, hi=100),
    "kmeans_init_method": _o("str", {"kmeans"}, "RANDOM", "KMEANS++", "CUSTOM"),
    "kmeans_init_col": _o("str", {"kmeans"}),
    "distance_type": _o("str", {"kmeans"}, "EUCLIDEAN", "COSINE"),
    "standardize_features": _o("bool", {"kmeans"}),
    # PCA
    "num_principal_components": _o("int", {"pca"}, lo=1),
    "pca_explained_variance_ratio": _o("float", {"pca"}, lo=0.0, hi=1.0),
    "scale_features": _o("bool", {"pca"}),
    "pca_solver": _o("str", {"pca"}, "FULL", "RANDOMIZED", "AUTO"),
    # matrix factorization
    "feedback_type": _o("str", {"matrix_factorization"}, "EXPLICIT", "IMPLICIT"),
    "num_factors": _o("int", {"matrix_factorization"}, lo=2, hi=200),
    "user_col": _o("str", {"matrix_factorization"}),
    "item_col": _o("str", {"matrix_factorization"}),
    "rating_col": _o("str", {"matrix_factorization"}),
    "wals_alpha": _o("float", {"matrix_factorization"}, lo=0.0),
    # ARIMA_PLUS
    "time_series_timestamp_col": _o("str", {"arima_plus"}),
    "time_series_data_col": _o("str", {"arima_plus"}),
    "time_series_id_col": _o("any", {"arima_plus"}),
    "horizon": _o("int", {"arima_plus"}, lo=1, hi=10000),
    "auto_arima": _o("bool", {"arima_plus"}),
    "auto_arima_max_order": _o("int", {"arima_plus"}, lo=1, hi=5),
    "auto_arima_min_order": _o("int", {"arima_plus"}, lo=0, hi=5),
    "non_seasonal_order": _o("any", {"arima_plus"}),
    "data_frequency": _o(
        "str",
        {"arima_plus"},
        "AUTO_FREQUENCY",
        "PER_MINUTE",
        "HOURLY",
        "DAILY",
        "WEEKLY",
        "MONTHLY",
        "QUARTERLY",
        "YEARLY",
    ),
    "include_drift": _o("bool", {"arima_plus"}),
    "holiday_region": _o("any", {"arima_plus"}),
    "clean_spikes_and_dips": _o("bool", {"arima_plus"}),
    "adjust_step_changes": _o("bool", {"arima_plus"}),
    "decompose_time_series": _o("bool", {"arima_plus"}),
    "seasonalities": _o("str_list", {"arima_plus"}),
    "trend_smoothing_window_size": _o("int", {"arima_plus"}, lo=1),
    # Vertex AI registration: the registry always holds the model here; accepted, recorded
    "model_registry": _o("str", _ALL, "VERTEX_AI"),
    "vertex_ai_model_id": _o("str", _ALL),
    "vertex_ai_model_version_aliases": _o("str_list", _ALL),
}


@dataclass(frozen=True)
class Options:
    """Checked options of one CREATE MODEL: the model type, its family, the options given
    (lower-case names), and the label columns."""

    model_type: str
    family: str
    given: dict[str, Any]

    @property
    def supervised(self) -> bool:
        """Whether the model learns a label."""
        return self.family in SUPERVISED

    @property
    def classifier(self) -> bool:
        """Whether the model predicts classes."""
        return self.model_type == "LOGISTIC_REG" or self.model_type.endswith("_CLASSIFIER")

    def get(self, name: str, default: Any = None) -> Any:
        """An option's value, or `default` when not given."""
        value = self.given.get(name)
        return default if value is None else value

    @property
    def label_cols(self) -> list[str]:
        """`input_label_cols` (BigQuery ML's default: `label`)."""
        return list(self.get("input_label_cols", ["label"]))


def check_options(options: dict[str, Any], source: str, positions: dict[str, int]) -> Options:
    """Check a CREATE MODEL's OPTIONS against the model type; SqlSyntaxError naming the first
    problem (at the option's position)."""

    def fail(name: str, message: str) -> Exception:
        return syntax_error(source, positions.get(name, 0), message)

    raw_type = options.get("model_type")
    if raw_type is None:
        raise syntax_error(source, 0, f"OPTIONS needs model_type, one of {', '.join(MODEL_TYPES)}")
    if not isinstance(raw_type, str) or raw_type.upper() not in MODEL_TYPES:
        close = difflib.get_close_matches(str(raw_type).upper(), MODEL_TYPES, n=1)
        extra = f" (did you mean {close[0]}?)" if close else ""
        raise fail("model_type", f"unknown model_type {raw_type!r}{extra}")
    model_type = raw_type.upper()
    family = MODEL_TYPES[model_type]
    given: dict[str, Any] = {}
    for name, value in options.items():
        spec = _SPEC.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, _SPEC, n=1)
            extra = f" (did you mean {close[0]}?)" if close else ""
            raise fail(name, f"unknown option {name!r}{extra}")
        if family not in spec.families:
            raise fail(name, f"option {name!r} does not apply to {model_type}")
        given[name] = _coerce(name, value, spec, fail)
    given["model_type"] = model_type
    if given.get("input_label_cols") is not None and len(given["input_label_cols"]) != 1:
        raise fail("input_label_cols", "input_label_cols takes exactly one column")
    method = given.get("data_split_method")
    if method in {"CUSTOM", "SEQ"} and not given.get("data_split_col"):
        raise fail("data_split_method", f"data_split_method {method} needs data_split_col")
    return Options(model_type, family, given)


def _coerce(name: str, value: Any, spec: _Opt, fail: Any) -> Any:
    kind = spec.kind
    if value is None or kind == "any":
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise fail(name, f"option {name!r} takes TRUE or FALSE, got {value!r}")
        return value
    if kind in {"int", "float"}:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(name, f"option {name!r} takes a number, got {value!r}")
        if kind == "int":
            if float(value) != int(value):
                raise fail(name, f"option {name!r} takes a whole number, got {value!r}")
            value = int(value)
        else:
            value = float(value)
        if spec.minimum is not None and value < spec.minimum:
            raise fail(name, f"option {name!r} must be at least {spec.minimum:g}, got {value}")
        if spec.maximum is not None and value > spec.maximum:
            raise fail(name, f"option {name!r} must be at most {spec.maximum:g}, got {value}")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise fail(name, f"option {name!r} takes a string, got {value!r}")
        if spec.choices:
            upper = value.upper()
            if upper not in spec.choices:
                raise fail(
                    name, f"option {name!r} is one of {', '.join(spec.choices)}, got {value!r}"
                )
            return upper
        return value
    if kind in {"str_list", "int_list"}:
        values = value if isinstance(value, list) else [value]
        want = str if kind == "str_list" else int
        if not all(isinstance(v, want) and not isinstance(v, bool) for v in values):
            what = "strings" if want is str else "whole numbers"
            raise fail(name, f"option {name!r} takes a list of {what}, got {value!r}")
        return values
    raise AssertionError(kind)
