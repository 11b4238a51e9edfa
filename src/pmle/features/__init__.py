"""The feature store (`ws.features`): entities and feature views defined once (Python or
YAML, applied with a plan, versioned, with lineage), point-in-time correct training sets
(DuckDB ASOF JOIN), materialization into an online store (SQLite, or Redis), online reads,
and freshness. Deployments can name feature views and look features up at prediction time.
"""

from __future__ import annotations

from pmle.features.definitions import Definitions, Entity, Feature, FeatureView
from pmle.features.store import Change, FeatureStore, Plan, ViewVersion

__all__ = [
    "Change",
    "Definitions",
    "Entity",
    "Feature",
    "FeatureStore",
    "FeatureView",
    "Plan",
    "ViewVersion",
]
