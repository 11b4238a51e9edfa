"""Skew and drift of features: a stored baseline against the rows of a window, per feature,
with Vertex AI's metrics and thresholds (default 0.3, per-feature overrides, range [0, 1))."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.monitoring.distances import CategoricalHistogram, NumericHistogram

if TYPE_CHECKING:
    import duckdb

    from pmle.monitoring.sql_histograms import Histogram

#: Vertex AI Model Monitoring's default alert threshold, for both metrics.
DEFAULT_THRESHOLD = 0.3
METRICS = {NumericHistogram: "jensen_shannon_divergence", CategoricalHistogram: "l_infinity"}


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's distance from its baseline and whether it crossed its threshold."""

    feature: str
    metric: str
    value: float
    threshold: float
    rows: int

    @property
    def anomalous(self) -> bool:
        """The distance reached the threshold (Vertex alerts at ≥)."""
        return self.value >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "feature": self.feature,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "anomalous": self.anomalous,
            "rows": self.rows,
        }


def check_threshold(value: Any, what: str = "threshold") -> float:
    """A threshold in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise InvalidInput(f"{what} must be a number in [0, 1), got {value!r}")
    return float(value)


def thresholds_for(
    features: list[str],
    overrides: Mapping[str, float] | None = None,
    default: float = DEFAULT_THRESHOLD,
) -> dict[str, float]:
    """Each feature's threshold: its override, else the default; unknown names are an error."""
    base = check_threshold(default, "the default threshold")
    given = dict(overrides or {})
    unknown = sorted(set(given) - set(features))
    if unknown:
        raise InvalidInput(
            f"threshold(s) for unmonitored feature(s): {', '.join(unknown)}",
            hint=f"monitored: {', '.join(features)}",
        )
    return {
        f: check_threshold(given[f], f"the threshold of {f!r}") if f in given else base
        for f in features
    }


def detect(
    con: duckdb.DuckDBPyConnection,
    baseline: Mapping[str, Histogram],
    relation: str,
    *,
    thresholds: Mapping[str, float] | None = None,
    default_threshold: float = DEFAULT_THRESHOLD,
) -> list[FeatureDrift]:
    """Each baseline feature's distance over the SQL relation `relation` (the window), all
    features counted in one scan of it."""
    from pmle.monitoring import sql_histograms

    features = list(baseline)
    limits = thresholds_for(features, thresholds, default_threshold)
    kinds = {
        f: "numeric" if isinstance(h, NumericHistogram) else "categorical"
        for f, h in baseline.items()
    }
    sql_histograms.check_relation(con, relation, kinds)
    counted = sql_histograms.count_all(con, relation, baseline)  # one scan for every feature
    out = []
    for feature, hist in baseline.items():
        counts = counted[feature]
        rows = int(counts.sum())
        if rows == 0:
            raise InvalidInput("the window holds no rows", hint="pick a window with traffic")
        value = hist.distance_from_counts(counts)
        out.append(FeatureDrift(feature, METRICS[type(hist)], value, limits[feature], rows))
    return out
