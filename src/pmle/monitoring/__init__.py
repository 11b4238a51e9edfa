"""Model monitoring: training–serving skew and drift with Vertex AI's distances."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle._util import lazy_exports

__all__ = [
    "CategoricalHistogram",
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

__getattr__ = lazy_exports(
    __name__,
    {
        **{n: "distances" for n in ("CategoricalHistogram", "NumericHistogram")},
        **{n: "distances" for n in ("js_divergence", "linf_distance")},
        "FeatureDrift": "drift",
        "detect": "drift",
    },
)
