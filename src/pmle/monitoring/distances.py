"""Histograms fitted on a baseline and the two distances Vertex AI Model Monitoring uses.

- Numerical features: **Jensen–Shannon divergence** between the baseline's and the current
  histogram over the baseline's quantile buckets (10 by default, as BigQuery ML's
  `num_quantiles_histogram_buckets`). We report the *divergence* with base-2 logarithms, so it
  lies in [0, 1]; it equals the square of SciPy's `jensenshannon(p, q, base=2)` (a distance).
- Categorical features: **L-infinity distance**, the largest difference between the two
  frequency distributions over the baseline's categories, in [0, 1].

Missing values are a bucket of their own in both, so a feature that starts arriving empty is
a shift too. Values outside the baseline's range fall into the first or last bucket (the outer
buckets are open); categories the baseline never saw share an "other" bucket. A baseline is a
small JSON-able object: fitted once, stored, compared with every window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np

#: Quantile buckets of a numerical baseline (BigQuery ML's default).
NUMERIC_BUCKETS = 10
#: Most frequent categories a categorical baseline keeps; the rest are "other".
MAX_CATEGORIES = 100


def _normalized(counts: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    import numpy as np

    c = np.asarray(counts, dtype="float64")
    if c.ndim != 1 or (c < 0).any() or not np.isfinite(c).all():
        raise InvalidInput(f"{what} must be non-negative finite counts")
    total = c.sum()
    if total <= 0:
        raise InvalidInput(f"{what} holds no rows", hint="compare windows that contain data")
    return c / total


def js_divergence(
    p_counts: Sequence[float] | np.ndarray, q_counts: Sequence[float] | np.ndarray
) -> float:
    """Jensen–Shannon divergence (log base 2, in [0, 1]) of two histograms over the same
    buckets: ½ KL(p ‖ m) + ½ KL(q ‖ m) with m = ½ (p + q)."""
    import numpy as np

    p = _normalized(p_counts, "the baseline histogram")
    q = _normalized(q_counts, "the current histogram")
    if p.shape != q.shape:
        raise InvalidInput(f"histograms have {len(p)} and {len(q)} buckets")
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0  # 0 · log 0 = 0; m > 0 wherever a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return min(1.0, max(0.0, 0.5 * kl(p) + 0.5 * kl(q)))


def linf_distance(
    p_counts: Sequence[float] | np.ndarray, q_counts: Sequence[float] | np.ndarray
) -> float:
    """L-infinity distance (in [0, 1]) of two histograms over the same buckets: the largest
    absolute difference between their frequencies."""
    import numpy as np

    p = _normalized(p_counts, "the baseline histogram")
    q = _normalized(q_counts, "the current histogram")
    if p.shape != q.shape:
        raise InvalidInput(f"histograms have {len(p)} and {len(q)} buckets")
    return float(np.max(np.abs(p - q)))


@dataclass(frozen=True)
class NumericHistogram:
    """Quantile buckets of a baseline: `edges` are the inner cut points; bucket i holds
    edges[i-1] < x ≤ edges[i] (open at both ends), the last bucket missing values."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]

    @classmethod
    def fit(cls, values: Any, buckets: int = NUMERIC_BUCKETS) -> NumericHistogram:
        """Cut points at the baseline's quantiles (ties merged), and its counts."""
        import numpy as np

        if not isinstance(buckets, int) or not 2 <= buckets <= 1000:
            raise InvalidInput(f"buckets must be an integer 2..1000, got {buckets!r}")
        x = _floats(values)
        present = x[~np.isnan(x)]
        if len(present) == 0:
            edges: tuple[float, ...] = ()
        else:
            qs = np.quantile(present, np.linspace(0.0, 1.0, buckets + 1)[1:-1])
            edges = tuple(float(e) for e in np.unique(qs))
        base = cls(edges, ())
        return cls(edges, tuple(int(c) for c in base.count(x)))

    def count(self, values: Any) -> np.ndarray:
        """Counts of `values` in these buckets (the last one: missing)."""
        import numpy as np

        x = _floats(values)
        missing = np.isnan(x)
        idx = np.searchsorted(np.asarray(self.edges, dtype="float64"), x[~missing], side="left")
        counts = np.bincount(idx, minlength=len(self.edges) + 1)
        return np.append(counts, int(missing.sum()))

    def distance(self, values: Any) -> float:
        """JS divergence between this baseline and `values`."""
        return self.distance_from_counts(self.count(values))

    def distance_from_counts(self, counts: Any) -> float:
        """JS divergence between this baseline and counts in its buckets."""
        return js_divergence(self.counts, counts)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"kind": "numeric", "edges": list(self.edges), "counts": list(self.counts)}


@dataclass(frozen=True)
class CategoricalHistogram:
    """The baseline's most frequent categories; then an "other" and a missing bucket."""

    categories: tuple[str, ...]
    counts: tuple[int, ...]

    @classmethod
    def fit(cls, values: Any, max_categories: int = MAX_CATEGORIES) -> CategoricalHistogram:
        """The baseline's top categories (by count, then name) and its counts."""
        counts = _value_counts(values)
        top = sorted(counts, key=lambda k: (-counts[k], k))[:max_categories]
        base = cls(tuple(top), ())
        return cls(base.categories, tuple(int(c) for c in base.count(values)))

    def count(self, values: Any) -> np.ndarray:
        """Counts per baseline category, then other, then missing."""
        import numpy as np

        counts = _value_counts(values, keep_missing=True)
        missing = counts.pop(None, 0)
        known = [counts.pop(c, 0) for c in self.categories]
        return np.asarray([*known, sum(counts.values()), missing], dtype="int64")

    def distance(self, values: Any) -> float:
        """L-infinity distance between this baseline and `values`."""
        return self.distance_from_counts(self.count(values))

    def distance_from_counts(self, counts: Any) -> float:
        """L-infinity distance between this baseline and counts in its buckets."""
        return linf_distance(self.counts, counts)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "kind": "categorical",
            "categories": list(self.categories),
            "counts": list(self.counts),
        }


def from_dict(data: dict[str, Any]) -> NumericHistogram | CategoricalHistogram:
    """A stored histogram back."""
    kind = data.get("kind") if isinstance(data, dict) else None
    try:
        if kind == "numeric":
            return NumericHistogram(
                tuple(float(e) for e in data["edges"]), tuple(int(c) for c in data["counts"])
            )
        if kind == "categorical":
            return CategoricalHistogram(
                tuple(str(c) for c in data["categories"]), tuple(int(c) for c in data["counts"])
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"malformed stored histogram: {exc}")
    raise InvalidInput(f"unknown histogram kind {kind!r}")


def _floats(values: Any) -> np.ndarray:
    import numpy as np
    import pandas as pd

    try:
        return pd.to_numeric(pd.Series(values), errors="raise").to_numpy(
            dtype="float64", na_value=np.nan
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"a numerical feature holds non-numbers: {exc}")


def _value_counts(values: Any, keep_missing: bool = False) -> dict[Any, int]:
    import pandas as pd

    s = pd.Series(values, dtype=object)
    present = s.notna()
    counts = {str(k): int(v) for k, v in s[present].astype(str).value_counts().items()}
    if keep_missing:
        counts[None] = int((~present).sum())  # type: ignore[index]
    return counts
