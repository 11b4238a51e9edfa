"""Feature lookup at prediction time: a deployment that names feature views takes instances
carrying entity keys (and any request-time fields), reads the features from the online
store, adds them to each instance and predicts — the features are the ones training read,
defined once, so serving does not re-implement them. The enriched instances are what the
request log keeps, so monitoring sees the looked-up values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    from pmle.features.store import FeatureStore
    from pmle.models.registry import ModelVersion

__all__ = ["FeatureLookup", "check_lookup"]


def check_lookup(store: FeatureStore, features: Sequence[str], model: ModelVersion) -> None:
    """At deploy time: the features exist, and each is an input of the model."""
    from pmle.features.retrieval import parse_features

    refs = parse_features(store, features)
    inputs = [c["name"] for c in (model.manifest.get("signature") or {}).get("inputs", [])]
    if not inputs:
        return
    for ref in refs:
        for feature in ref.features:
            if feature not in inputs:
                raise InvalidInput(
                    f"feature {ref.view.name}:{feature} is not an input of {model.ref}",
                    hint=f"the model takes {', '.join(inputs)}; name only the features it uses",
                )


class FeatureLookup:
    """Adds a deployment's features to instances from the online store."""

    def __init__(self, store: FeatureStore, features: Sequence[str]) -> None:
        from pmle.features.materialize import OnlineReader

        self.features = list(features)
        self.reader = OnlineReader(store, self.features)  # views resolved once
        self.names = {f for ref in self.reader.refs for f in ref.features}

    def enrich(self, instances: list[Any]) -> list[dict[str, Any]]:
        """The instances with their looked-up features (a new list; the input is unchanged).

        An instance must be an object with the entity keys; one that already carries a
        looked-up feature is refused, so a client cannot send values that differ from the
        store's (training–serving skew)."""
        for n, instance in enumerate(instances):
            if not isinstance(instance, Mapping):
                raise InvalidInput(
                    f"instance {n} must be an object with entity keys: this deployment looks "
                    "its features up in the feature store"
                )
            clash = self.names.intersection(instance)
            if clash:
                raise InvalidInput(
                    f"instance {n} sets {sorted(clash)[0]!r}, which this deployment looks up "
                    "in the feature store",
                    hint="send the entity keys and request-time fields only",
                )
        return self.reader.read(instances)

    def enrich_columns(self, raw: Mapping[str, list[Any]], n: int) -> dict[str, list[Any]]:
        """The same for per-column inputs (the V2 protocol)."""
        rows = [{k: v[i] for k, v in raw.items()} for i in range(n)]
        enriched = self.enrich(rows)
        names = list(enriched[0]) if enriched else list(raw)
        return {name: [row.get(name) for row in enriched] for name in names}
