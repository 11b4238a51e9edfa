"""Distances against SciPy, buckets, and planted shifts found in exactly the shifted features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from pmle.errors import InvalidInput
from pmle.monitoring.distances import (
    CategoricalHistogram,
    NumericHistogram,
    from_dict,
    js_divergence,
    linf_distance,
)


@pytest.mark.parametrize("seed", range(5))
def test_js_divergence_is_scipys_distance_squared(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p, q = rng.integers(0, 50, size=12), rng.integers(0, 50, size=12)
    p[3] = 0  # empty buckets on one side
    want = jensenshannon(p / p.sum(), q / q.sum(), base=2) ** 2
    assert js_divergence(p, q) == pytest.approx(want, abs=1e-12)
    assert js_divergence(p, p) == 0.0
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)


def test_linf_distance() -> None:
    assert linf_distance([1, 1, 2], [2, 1, 1]) == pytest.approx(0.25)
    assert linf_distance([5, 0], [0, 3]) == 1.0


def test_bad_histograms() -> None:
    with pytest.raises(InvalidInput, match="holds no rows"):
        js_divergence([0, 0], [1, 1])
    with pytest.raises(InvalidInput, match="2 and 3 buckets"):
        linf_distance([1, 1], [1, 1, 1])
    with pytest.raises(InvalidInput, match="non-negative"):
        js_divergence([-1, 2], [1, 1])


def test_numeric_buckets_are_baseline_quantiles() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=10_000)
    h = NumericHistogram.fit(base)
    assert len(h.edges) == 9 and len(h.counts) == 11  # 10 buckets + missing
    assert sum(h.counts) == 10_000 and h.counts[-1] == 0
    assert max(h.counts[:-1]) - min(h.counts[:-1]) <= 1  # quantiles: equal buckets
    got = h.count([-100.0, h.edges[0], h.edges[0] + 1e-9, 100.0, None, float("nan")])
    assert got[0] == 2 and got[1] == 1 and got[9] == 1 and got[-1] == 2
    assert from_dict(h.to_dict()) == h


def test_categorical_buckets_other_and_missing() -> None:
    h = CategoricalHistogram.fit(["a"] * 5 + ["b"] * 3 + ["c"], max_categories=2)
    assert h.categories == ("a", "b") and h.counts == (5, 3, 1, 0)
    counts = h.count(["a", "z", None, "b", 7])
    assert list(counts) == [1, 1, 2, 1]
    assert from_dict(h.to_dict()) == h


def test_planted_shift_is_found_in_exactly_the_shifted_features() -> None:
    rng = np.random.default_rng(42)
    n = 20_000

    def sample(shift: bool) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "tenure": rng.gamma(2.0, 10.0, size=n) + (25.0 if shift else 0.0),
                "charges": rng.normal(70, 20, size=n),
                "contract": rng.choice(
                    ["monthly", "yearly", "two-year"],
                    p=[0.2, 0.3, 0.5] if shift else [0.6, 0.25, 0.15],
                    size=n,
                ),
                "payment": rng.choice(["card", "bank", "check"], size=n),
            }
        )

    baseline, same, shifted = sample(False), sample(False), sample(True)
    hists = {
        "tenure": NumericHistogram.fit(baseline["tenure"]),
        "charges": NumericHistogram.fit(baseline["charges"]),
        "contract": CategoricalHistogram.fit(baseline["contract"]),
        "payment": CategoricalHistogram.fit(baseline["payment"]),
    }
    threshold = 0.3  # Vertex AI's default for both distances

    def flagged(frame: pd.DataFrame) -> set[str]:
        return {c for c, h in hists.items() if h.distance(frame[c]) >= threshold}

    assert flagged(same) == set()
    assert flagged(shifted) == {"tenure", "contract"}
    assert max(h.distance(same[c]) for c, h in hists.items()) < 0.01
