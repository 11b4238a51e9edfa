"""Feature definitions: entities (what features describe, by their join keys) and feature views
(typed features computed by a SQL query or read from a dataset version, with an event
timestamp and a time to live), declared in Python or YAML.

    entities:
      - name: customer
        join_keys: [customer_id]
    feature_views:
      - name: customer_spend
        entities: [customer]
        source: {dataset: transactions}        # or {sql: "SELECT … FROM …"}
        timestamp: event_ts
        ttl: 30d                                # s, m, h, d, w; none = forever
        features:
          - {name: spend_7d, dtype: float64, description: "spend over 7 days"}
        owner: risk-team
        tags: {domain: payments}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pmle._util import check_name
from pmle.errors import InvalidInput

__all__ = [
    "DTYPES",
    "Definitions",
    "Entity",
    "Feature",
    "FeatureView",
    "load_definitions",
    "parse_definitions",
    "parse_ttl",
]

#: Feature types and the DuckDB types they accept.
DTYPES: dict[str, tuple[str, ...]] = {
    "int64": ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
              "UBIGINT", "HUGEINT"),
    "float64": ("FLOAT", "DOUBLE", "DECIMAL", "TINYINT", "SMALLINT", "INTEGER", "BIGINT",
                "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"),
    "string": ("VARCHAR",),
    "bool": ("BOOLEAN",),
    "timestamp": ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "DATE", "TIMESTAMP_NS",
                  "TIMESTAMP_MS", "TIMESTAMP_S"),
}  # fmt: skip
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TTL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_ttl(value: Any) -> float | None:
    """A time to live in seconds from `30d`, `12h`, a number of seconds, or none."""
    if value is None or (isinstance(value, str) and value.strip().lower() in {"", "none"}):
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"bad ttl {value!r}", hint="write e.g. 30d, 12h or 3600")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _TTL.match(str(value))
        if not match:
            raise InvalidInput(f"bad ttl {value!r}", hint="write e.g. 30d, 12h, 90m or 3600")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise InvalidInput(f"ttl {value!r} must be positive (or none for no expiry)")
    return seconds


def _ttl_text(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class Entity:
    """What features describe, identified by its join keys (e.g. customer by customer_id)."""

    name: str
    join_keys: tuple[str, ...]
    description: str = ""

    def __post_init__(self) -> None:
        check_name(self.name, "entity name")
        if not self.join_keys:
            raise InvalidInput(f"entity {self.name!r} needs at least one join key")
        for key in self.join_keys:
            check_name(key, "join key")

    def to_dict(self) -> dict[str, Any]:
        """JSON / YAML form."""
        return {
            "name": self.name,
            "join_keys": list(self.join_keys),
            "description": self.description,
        }


@dataclass(frozen=True)
class Feature:
    """One typed feature of a view."""

    name: str
    dtype: str
    description: str = ""

    def __post_init__(self) -> None:
        check_name(self.name, "feature name")
        if self.dtype not in DTYPES:
            raise InvalidInput(
                f"feature {self.name!r} has type {self.dtype!r}",
                hint=f"types: {', '.join(DTYPES)}",
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON / YAML form."""
        return {"name": self.name, "dtype": self.dtype, "description": self.description}


@dataclass(frozen=True)
class FeatureView:
    """Features of one or more entities, read from a source with an event timestamp.

    `sql` is a query over the warehouse (tables and dataset views); `dataset` names a dataset
    (`name` follows its newest version when read, `name@3` pins one). Exactly one is given."""

    name: str
    entities: tuple[str, ...]
    features: tuple[Feature, ...]
    timestamp: str
    sql: str | None = None
    dataset: str | None = None
    ttl: float | None = None  # seconds; None = never expires
    description: str = ""
    owner: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "feature view name")
        if not self.entities:
            raise InvalidInput(f"feature view {self.name!r} needs at least one entity")
        if not self.features:
            raise InvalidInput(f"feature view {self.name!r} declares no features")
        if (self.sql is None) == (self.dataset is None):
            raise InvalidInput(
                f"feature view {self.name!r} needs exactly one source",
                hint="source: {sql: 'SELECT …'} or source: {dataset: NAME}",
            )
        names = [f.name for f in self.features]
        for name in names:
            if names.count(name) > 1:
                raise InvalidInput(f"feature view {self.name!r} declares {name!r} twice")
        check_name(self.timestamp, "timestamp column")

    @property
    def feature_names(self) -> list[str]:
        """The features, in declaration order."""
        return [f.name for f in self.features]

    def to_dict(self) -> dict[str, Any]:
        """JSON / YAML form (what versions compare and store)."""
        source = {"sql": self.sql} if self.sql is not None else {"dataset": self.dataset}
        return {
            "name": self.name,
            "entities": list(self.entities),
            "source": source,
            "timestamp": self.timestamp,
            "ttl": _ttl_text(self.ttl),
            "features": [f.to_dict() for f in self.features],
            "description": self.description,
            "owner": self.owner,
            "tags": dict(sorted(self.tags.items())),
        }


@dataclass(frozen=True)
class Definitions:
    """A set of entities and feature views, as applied together."""

    entities: tuple[Entity, ...] = ()
    views: tuple[FeatureView, ...] = ()

    def entity(self, name: str) -> Entity | None:
        """An entity of this set by name."""
        return next((e for e in self.entities if e.name == name), None)


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a mapping")
    return value


def _entity(data: Any) -> Entity:
    data = _mapping(data, "an entity")
    keys = data.get("join_keys") or data.get("join_key")
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list):
        raise InvalidInput(f"entity {data.get('name')!r} needs join_keys: [column, …]")
    return Entity(
        str(data.get("name", "")), tuple(str(k) for k in keys), str(data.get("description", ""))
    )


def _view(data: Any) -> FeatureView:
    data = _mapping(data, "a feature view")
    name = str(data.get("name", ""))
    source = _mapping(data.get("source") or {}, f"the source of feature view {name!r}")
    unknown = set(source) - {"sql", "dataset"}
    if unknown:
        raise InvalidInput(f"feature view {name!r}: unknown source keys {sorted(unknown)}")
    features = []
    for raw in data.get("features") or []:
        raw = _mapping(raw, f"a feature of {name!r}")
        features.append(
            Feature(
                str(raw.get("name", "")), str(raw.get("dtype", "")), str(raw.get("description", ""))
            )
        )
    entities = data.get("entities") or []
    if isinstance(entities, str):
        entities = [entities]
    tags = data.get("tags") or {}
    if not isinstance(tags, Mapping):
        raise InvalidInput(f"feature view {name!r}: tags must be a mapping")
    timestamp = data.get("timestamp") or data.get("timestamp_column")
    if not timestamp:
        raise InvalidInput(f"feature view {name!r} needs its event timestamp column (timestamp:)")
    return FeatureView(
        name=name,
        entities=tuple(str(e) for e in entities),
        features=tuple(features),
        timestamp=str(timestamp),
        sql=str(source["sql"]) if "sql" in source else None,
        dataset=str(source["dataset"]) if "dataset" in source else None,
        ttl=parse_ttl(data.get("ttl")),
        description=str(data.get("description", "")),
        owner=str(data.get("owner", "")),
        tags={str(k): str(v) for k, v in tags.items()},
    )


def parse_definitions(data: Any) -> Definitions:
    """Definitions from their YAML / JSON form (see the module docstring)."""
    data = _mapping(data or {}, "a definitions file")
    unknown = set(data) - {"entities", "feature_views"}
    if unknown:
        raise InvalidInput(
            f"unknown top-level keys {sorted(unknown)}", hint="use entities: and feature_views:"
        )
    entities = tuple(_entity(e) for e in data.get("entities") or [])
    views = tuple(_view(v) for v in data.get("feature_views") or [])
    return check_definitions(Definitions(entities, views), known_entities=None)


def check_definitions(
    defs: Definitions, known_entities: Iterable[Entity] | None = ()
) -> Definitions:
    """Names unique; every view's entities declared here or among `known_entities` (None:
    not checked yet — the registry may know them; `plan` checks)."""
    for kind, names in (
        ("entity", [e.name for e in defs.entities]),
        ("feature view", [v.name for v in defs.views]),
    ):
        for name in names:
            if names.count(name) > 1:
                raise InvalidInput(f"{kind} {name!r} is declared twice")
    if known_entities is None:
        return defs
    available = {e.name for e in (*known_entities, *defs.entities)}
    for view in defs.views:
        for entity in view.entities:
            if entity not in available:
                raise InvalidInput(
                    f"feature view {view.name!r} uses entity {entity!r}, which is not declared",
                    hint="declare it under entities:",
                )
    return defs


def load_definitions(paths: Iterable[str | Path]) -> Definitions:
    """Definitions from YAML files (their entities and views together)."""
    import yaml

    entities: list[Entity] = []
    views: list[FeatureView] = []
    for given in paths:
        path = Path(given)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{path} is not valid YAML: {exc}") from None
        part = parse_definitions(data)
        entities.extend(part.entities)
        views.extend(part.views)
    return check_definitions(Definitions(tuple(entities), tuple(views)), known_entities=None)
