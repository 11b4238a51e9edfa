"""ML.VALIDATE_DATA_SKEW and ML.VALIDATE_DATA_DRIFT, as BigQuery ML documents them.

Both return one row per compared feature: `input`, `metric`, `threshold`, `value`,
`is_anomaly` (the value exceeds the threshold). The statistics and distances are the model
monitoring ones (:mod:`pmle.monitoring.distances`, computed by DuckDB through
:mod:`pmle.monitoring.sql_histograms`): numerical features are compared over the baseline's
quantile buckets with the Jensen–Shannon divergence, categorical ones (strings, booleans) with
the L-infinity distance (or the Jensen–Shannon divergence, `categorical_metric_type`).

- Skew compares serving rows with the statistics of the model's training data, computed once
  at CREATE MODEL (:func:`training_statistics`, kept in the model's `extra`) over the raw
  input columns, before any TRANSFORM. For other registry models (AutoML, …) the baseline is
  the training dataset their lineage records.
- Drift compares two tables (base, study) over the features they share.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from pmle.monitoring.sql_histograms import Histogram
    from pmle.sqlml.engine import SqlSession
    from pmle.sqlml.functions import CallArgs

__all__ = ["STATS_KEY", "training_statistics", "validate_data_drift", "validate_data_skew"]

#: Where a SqlModel keeps its training statistics (in `extra`).
STATS_KEY = "training_statistics"
STATS_MAX_ROWS = 200_000
DEFAULT_THRESHOLD = 0.3
L_INFTY = "L_INFTY"
JSD = "JENSEN_SHANNON_DIVERGENCE"
COLUMNS = ["input", "metric", "threshold", "value", "is_anomaly"]

_COMMON = {
    "categorical_default_threshold",
    "categorical_metric_type",
    "numerical_default_threshold",
    "numerical_metric_type",
    "thresholds",
}
_SKEW_SETTINGS = _COMMON | {"enable_visualization_link"}
_BUCKET_SETTINGS = {
    "num_histogram_buckets": 10,
    "num_quantiles_histogram_buckets": 10,
    "num_values_histogram_buckets": 10,
    "num_rank_histogram_buckets": 50,
}
_DRIFT_SETTINGS = _COMMON | set(_BUCKET_SETTINGS) | {"enable_visualization_link"}

_NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)
_CATEGORICAL_TYPES = ("VARCHAR", "BOOLEAN")


def kind_of(duck_type: str) -> str | None:
    """numeric | categorical for a DuckDB column type; None for types without histograms
    (dates, arrays, structs)."""
    upper = duck_type.upper()
    if upper.startswith(_NUMERIC_TYPES):
        return "numeric"
    if upper in _CATEGORICAL_TYPES or upper.startswith("ENUM"):
        return "categorical"
    return None


def _fit(
    con: duckdb.DuckDBPyConnection, relation: str, kinds: Mapping[str, str], buckets: int = 10
) -> dict[str, Histogram]:
    from pmle.monitoring import sql_histograms

    return sql_histograms.fit(con, relation, kinds, buckets=buckets)


def _kinds_of_frame(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    kinds = {}
    for column, duck_type, *_ in con.sql(f"DESCRIBE SELECT * FROM {name}").fetchall():
        kind = kind_of(str(duck_type))
        if kind is not None:
            kinds[str(column)] = kind
    return kinds


def training_statistics(frame: pd.DataFrame, types: Mapping[str, str]) -> dict[str, Any]:
    """The statistics ML.VALIDATE_DATA_SKEW compares with: a histogram per input column of
    `frame` (the training query's rows, label left out) whose DuckDB type (`types`) has one.
    Above :data:`STATS_MAX_ROWS` rows, an evenly spaced sample of that many rows is used (the
    histograms hardly move, and a million-row CREATE MODEL saves ≈ 0.4 s)."""
    import duckdb

    from pmle.monitoring.sql_histograms import to_dicts

    kinds = {c: k for c, t in types.items() if c in frame.columns and (k := kind_of(t))}
    if not kinds:
        return {"rows": len(frame), "histograms": {}}
    rows = frame[list(kinds)]
    if len(rows) > STATS_MAX_ROWS:
        rows = rows.iloc[:: -(-len(rows) // STATS_MAX_ROWS)]
    con = duckdb.connect()
    try:
        con.register("__pmle_stats", rows)
        hists = _fit(con, "SELECT * FROM __pmle_stats", kinds)
    finally:
        con.close()
    return {"rows": len(frame), "histograms": to_dicts(hists)}


# ---- settings ------------------------------------------------------------------------------


def _check_settings(function: str, settings: Mapping[str, Any], allowed: set[str]) -> None:
    for name in settings:
        if name not in allowed:
            close = difflib.get_close_matches(name, allowed, n=1)
            extra = f" (did you mean {close[0]}?)" if close else ""
            raise InvalidInput(
                f"ML.{function} has no setting {name!r}{extra}",
                hint=f"settings: {', '.join(sorted(allowed))}",
            )


def _threshold(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidInput(f"{what} must be a number in [0, 1], got {value!r}")
    return float(value)


def _metric(settings: Mapping[str, Any], kind: str) -> str:
    name = f"{kind}_metric_type"
    given = settings.get(name)
    if given is None:
        return L_INFTY if kind == "categorical" else JSD
    allowed = (L_INFTY, JSD) if kind == "categorical" else (JSD,)
    if not isinstance(given, str) or given.upper() not in allowed:
        raise InvalidInput(f"{name} is one of {', '.join(allowed)}, got {given!r}")
    return given.upper()


def _thresholds(settings: Mapping[str, Any], features: list[str]) -> dict[str, float]:
    """Per-feature thresholds from `thresholds` = [STRUCT('feature', 0.2), ...]."""
    given = settings.get("thresholds")
    if given is None:
        return {}
    items = given if isinstance(given, list) else [given]
    out: dict[str, float] = {}
    for item in items:
        if isinstance(item, dict) and len(item) == 2:
            item = tuple(item.values())
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise InvalidInput(
                "thresholds is an ARRAY of STRUCT('feature', threshold)",
                hint="e.g. [STRUCT('tenure', 0.2), STRUCT('contract', 0.1)] AS thresholds",
            )
        name, value = item
        if name not in features:
            raise InvalidInput(
                f"thresholds names {name!r}, which is not a compared feature",
                hint=f"features: {', '.join(features)}",
            )
        out[name] = _threshold(value, f"the threshold of {name!r}")
    return out


# ---- comparison ----------------------------------------------------------------------------


def _compare(
    con: duckdb.DuckDBPyConnection,
    baseline: Mapping[str, Histogram],
    relation: str,
    settings: Mapping[str, Any],
) -> pd.DataFrame:
    """One row per baseline feature: its distance over `relation` and whether it is an
    anomaly under the settings' thresholds and metrics."""
    import pandas as pd

    from pmle.monitoring import sql_histograms
    from pmle.monitoring.distances import NumericHistogram, js_divergence, linf_distance

    features = list(baseline)
    defaults = {
        kind: _threshold(
            settings.get(f"{kind}_default_threshold", DEFAULT_THRESHOLD),
            f"{kind}_default_threshold",
        )
        for kind in ("categorical", "numerical")
    }
    metrics = {kind: _metric(settings, kind) for kind in ("categorical", "numerical")}
    overrides = _thresholds(settings, features)
    counted = sql_histograms.count_all(con, relation, baseline)
    rows = []
    for feature, hist in baseline.items():
        kind = "numerical" if isinstance(hist, NumericHistogram) else "categorical"
        counts = counted[feature]
        if int(counts.sum()) == 0:
            raise InvalidInput("the rows to validate are empty", hint="give rows to compare")
        if sum(hist.counts) == 0:
            continue  # the baseline held no rows for it: nothing to compare with
        metric = metrics[kind]
        distance = linf_distance if metric == L_INFTY else js_divergence
        value = distance(hist.counts, counts)
        threshold = overrides.get(feature, defaults[kind])
        rows.append((feature, metric, threshold, value, bool(value > threshold)))
    return pd.DataFrame(rows, columns=COLUMNS)


def _connect_with(frame: pd.DataFrame, name: str) -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect()
    con.register(name, frame)
    return con


def validate_data_skew(session: SqlSession, args: CallArgs, model: Any) -> pd.DataFrame:
    """ML.VALIDATE_DATA_SKEW(MODEL m, TABLE t | (query), STRUCT(...)): the serving rows
    against the statistics of the model's training data."""
    from pmle.monitoring.distances import from_dict
    from pmle.sqlml.model import SqlModel

    _check_settings("VALIDATE_DATA_SKEW", args.settings, _SKEW_SETTINGS)
    if not args.tables:
        raise InvalidInput(
            "ML.VALIDATE_DATA_SKEW needs the serving rows: TABLE name or (SELECT ...)",
            hint="e.g. ML.VALIDATE_DATA_SKEW(MODEL m, TABLE serving)",
        )
    serving = args.tables[0]
    if isinstance(model, SqlModel):
        stats = model.extra.get(STATS_KEY)
        if stats is None:
            raise InvalidInput(
                f"{args.model_ref} keeps no training statistics",
                hint="train it again (CREATE OR REPLACE MODEL) to record them",
            )
        baseline = {f: from_dict(h) for f, h in stats["histograms"].items()}
    else:
        baseline = _registry_baseline(session, str(args.model_ref))
    baseline = {f: h for f, h in baseline.items() if f in serving.columns}
    if not baseline:
        raise InvalidInput(
            "the serving rows share no feature column with the model's training data",
            hint=f"the model reads {', '.join(getattr(model, 'inputs', []) or []) or '?'}",
        )
    con = _connect_with(serving, "__pmle_serving")
    try:
        return _compare(con, baseline, "SELECT * FROM __pmle_serving", args.settings)
    finally:
        con.close()


def _registry_baseline(session: SqlSession, ref: str) -> dict[str, Histogram]:
    """Histograms of a registry model's training dataset (found through its lineage)."""
    import duckdb

    from pmle.models.signature import Signature
    from pmle.monitoring import sources

    mv = session.ws.models.get(ref.rsplit(".", 1)[-1])
    kinds = sources.feature_kinds(Signature.from_dict(mv.manifest["signature"]))
    relation, _ = sources.data_relation(session.ws, sources.training_dataset(mv))
    con = duckdb.connect()  # the dataset is a Parquet file: no warehouse connection needed
    try:
        return _fit(con, relation, kinds)
    finally:
        con.close()


def validate_data_drift(args: CallArgs) -> pd.DataFrame:
    """ML.VALIDATE_DATA_DRIFT(TABLE base | (query), TABLE study | (query), STRUCT(...)): the
    study rows against the statistics of the base rows, over the columns they share."""
    _check_settings("VALIDATE_DATA_DRIFT", args.settings, _DRIFT_SETTINGS)
    if len(args.tables) != 2:
        raise InvalidInput(
            "ML.VALIDATE_DATA_DRIFT compares two tables: (TABLE base, TABLE study, STRUCT(...))",
            hint="each is TABLE name or (SELECT ...)",
        )
    buckets = {}
    for name, default in _BUCKET_SETTINGS.items():
        value = args.settings.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 1000:
            raise InvalidInput(f"{name} must be a whole number 2..1000, got {value!r}")
        buckets[name] = value
    base, study = args.tables
    con = _connect_with(base, "__pmle_base")
    try:
        con.register("__pmle_study", study)
        kinds = {f: k for f, k in _kinds_of_frame(con, "__pmle_base").items() if f in study.columns}
        if not kinds:
            raise InvalidInput("the two tables share no numerical or categorical column")
        if base.empty:
            raise InvalidInput("the base rows are empty", hint="give rows to compare with")
        baseline = _fit(
            con, "SELECT * FROM __pmle_base", kinds, buckets["num_quantiles_histogram_buckets"]
        )
        return _compare(con, baseline, "SELECT * FROM __pmle_study", args.settings)
    finally:
        con.close()
