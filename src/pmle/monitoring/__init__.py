"""Model monitoring: training–serving skew and drift with Vertex AI's distances."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle._util import lazy_exports

__all__ = [
    "CategoricalHistogram",
    "NumericHistogram",
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

__getattr__ = lazy_exports(
    __name__,
    {name: "distances" for name in __all__},
)
