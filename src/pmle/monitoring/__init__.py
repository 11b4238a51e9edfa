"""Model monitoring: training–serving skew and drift with Vertex AI's distances, and fairness."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle._util import lazy_exports

__all__ = [
    "CategoricalHistogram",
    "Fairness",
    "FairnessReport",
    "FeatureDrift",
    "NumericHistogram",
    "detect",
    "js_divergence",
    "linf_distance",
]

if TYPE_CHECKING:
    from pmle.monitoring.distances import (
        CategoricalHistogram,
        NumericHistogram,
        js_divergence,
        linf_distance,
    )
    from pmle.monitoring.drift import FeatureDrift, detect
    from pmle.monitoring.fairness import Fairness
    from pmle.monitoring.fairness_metrics import FairnessReport

__getattr__ = lazy_exports(
    __name__,
    {
        **{n: "distances" for n in ("CategoricalHistogram", "NumericHistogram")},
        **{n: "distances" for n in ("js_divergence", "linf_distance")},
        "FeatureDrift": "drift",
        "detect": "drift",
        "Fairness": "fairness",
        "FairnessReport": "fairness_metrics",
    },
)
