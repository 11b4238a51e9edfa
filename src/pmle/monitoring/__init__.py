"""Model monitoring and responsible AI: monitors (skew, drift, attribution drift, performance)
with alerts and reports, explanations, fairness."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle._util import lazy_exports

__all__ = [
    "Alert",
    "CategoricalHistogram",
    "Explanation",
    "Explanations",
    "Fairness",
    "FairnessReport",
    "FeatureDrift",
    "MonitorInfo",
    "MonitorRun",
    "Monitors",
    "NumericHistogram",
    "detect",
    "js_divergence",
    "linf_distance",
]

if TYPE_CHECKING:
    from pmle.monitoring.alerts import Alert
    from pmle.monitoring.attributions import Explanation
    from pmle.monitoring.distances import (
        CategoricalHistogram,
        NumericHistogram,
        js_divergence,
        linf_distance,
    )
    from pmle.monitoring.drift import FeatureDrift, detect
    from pmle.monitoring.explanations import Explanations
    from pmle.monitoring.fairness import Fairness
    from pmle.monitoring.fairness_metrics import FairnessReport
    from pmle.monitoring.monitors import Monitors
    from pmle.monitoring.records import MonitorInfo, MonitorRun

__getattr__ = lazy_exports(
    __name__,
    {
        **{n: "distances" for n in ("CategoricalHistogram", "NumericHistogram")},
        **{n: "distances" for n in ("js_divergence", "linf_distance")},
        "FeatureDrift": "drift",
        "detect": "drift",
        "Fairness": "fairness",
        "FairnessReport": "fairness_metrics",
        "Alert": "alerts",
        "Explanation": "attributions",
        "Explanations": "explanations",
        "Monitors": "monitors",
        **{n: "records" for n in ("MonitorInfo", "MonitorRun")},
    },
)
