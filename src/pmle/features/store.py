"""The feature registry of a workspace (`ws.features`): entities and feature views, applied
with a plan that shows what changes, versioned, with lineage.

`plan(defs)` checks every view against its source *now* — the source resolves, holds the
entities' join keys, the timestamp column and every declared feature with a compatible type —
and lists what `apply` would create, update or (with `prune`) delete. `apply` writes a new
version of each changed object; a view's version is a `FeatureView` lineage artifact whose
input is the dataset version (or the datasets a SQL source reads).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput, NotFound
from pmle.features.definitions import (
    DTYPES,
    Definitions,
    Entity,
    FeatureView,
    check_definitions,
    parse_definitions,
)
from pmle.storage.warehouse import quote_ident

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from pmle.features.materialize import Freshness, MaterializationRun
    from pmle.features.online import OnlineStore
    from pmle.workspace import Workspace

__all__ = ["Change", "FeatureStore", "Plan", "ViewVersion"]

ARTIFACT_TYPE = "FeatureView"


@dataclass(frozen=True)
class Change:
    """One line of a plan."""

    action: str  # create | update | delete | unchanged
    kind: str  # entity | feature view
    name: str
    details: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "action": self.action,
            "kind": self.kind,
            "name": self.name,
            "details": list(self.details),
        }


@dataclass
class Plan:
    """What applying a set of definitions would change."""

    changes: list[Change] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        """Whether applying would write anything."""
        return any(c.action != "unchanged" for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"changes": [c.to_dict() for c in self.changes], "has_changes": self.has_changes}


@dataclass(frozen=True)
class ViewVersion:
    """A registered version of a feature view."""

    view: FeatureView
    version: int
    created_at: datetime
    lineage_artifact_id: int | None

    @property
    def name(self) -> str:
        """The view's name."""
        return self.view.name

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            **self.view.to_dict(),
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "lineage_artifact_id": self.lineage_artifact_id,
        }


def _diff(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    details = []
    for key in new:
        if old.get(key) != new.get(key):
            if key == "features":
                before = {f["name"]: f for f in old.get(key) or []}
                after = {f["name"]: f for f in new[key]}
                details += [f"+ feature {n}" for n in after if n not in before]
                details += [f"- feature {n}" for n in before if n not in after]
                details += [
                    f"~ feature {n}: {before[n]['dtype']} → {after[n]['dtype']}"
                    for n in after
                    if n in before and before[n]["dtype"] != after[n]["dtype"]
                ]
                if not details:
                    details.append("~ feature descriptions")
            else:
                details.append(f"~ {key}: {old.get(key)!r} → {new.get(key)!r}")
    return tuple(details)


class FeatureStore:
    """Entities, feature views, point-in-time retrieval and the online store (`ws.features`)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._online: OnlineStore | None = None

    # -- reading the registry ---------------------------------------------------------------

    def _latest(self, conn: Connection, table: Any) -> dict[str, Any]:
        import sqlalchemy as sa

        newest = (
            sa.select(table.c.name, sa.func.max(table.c.version).label("version"))
            .group_by(table.c.name)
            .subquery()
        )
        rows = conn.execute(
            sa.select(table).join(
                newest, (table.c.name == newest.c.name) & (table.c.version == newest.c.version)
            )
        ).all()
        return {r.name: r for r in rows if not getattr(r, "deleted", False)}

    def entities(self) -> list[Entity]:
        """Every entity, by name."""
        from pmle.features.definitions import _entity
        from pmle.storage import schema as t

        with self._ws.engine.begin() as conn:
            rows = self._latest(conn, t.feature_entities)
        return [_entity(rows[n].spec) for n in sorted(rows)]

    def entity(self, name: str) -> Entity:
        """One entity."""
        for entity in self.entities():
            if entity.name == name:
                return entity
        raise NotFound(f"no entity named {name!r}", hint="pmle features list shows them")

    def views(self) -> list[ViewVersion]:
        """The current version of every feature view, by name."""
        from pmle.storage import schema as t

        with self._ws.engine.begin() as conn:
            rows = self._latest(conn, t.feature_views)
        return [self._version(rows[n]) for n in sorted(rows)]

    def view(self, name: str, version: int | None = None) -> ViewVersion:
        """A feature view: its current version, or a given one (`name@3` also works)."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        if version is None and "@" in name:
            name, _, number = name.partition("@")
            if not number.isdigit():
                raise InvalidInput(f"bad feature view version {number!r}", hint="write NAME@3")
            version = int(number)
        v = t.feature_views
        query = sa.select(v).where(v.c.name == name)
        query = query.where(v.c.version == version) if version else query
        with self._ws.engine.begin() as conn:
            row = conn.execute(query.order_by(v.c.version.desc()).limit(1)).first()
        if row is None or row.deleted:
            known = ", ".join(vv.name for vv in self.views()) or "none yet"
            what = f"{name}@{version}" if version else name
            raise NotFound(f"no feature view {what!r}", hint=f"feature views: {known}")
        return self._version(row)

    def versions(self, name: str) -> list[ViewVersion]:
        """Every version of a feature view, oldest first (deletions excluded)."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        v = t.feature_views
        with self._ws.engine.begin() as conn:
            rows = conn.execute(sa.select(v).where(v.c.name == name).order_by(v.c.version)).all()
        if not rows:
            raise NotFound(f"no feature view named {name!r}")
        return [self._version(r) for r in rows if not r.deleted]

    @staticmethod
    def _version(row: Any) -> ViewVersion:
        from pmle._util import as_utc
        from pmle.features.definitions import _view

        return ViewVersion(_view(row.spec), row.version, as_utc(row.created_at), row.artifact_id)

    # -- plan and apply -----------------------------------------------------------------------

    def load(self, paths: Iterable[str]) -> Definitions:
        """Definitions from YAML files."""
        from pmle.features.definitions import load_definitions

        return load_definitions(paths)

    def plan(self, defs: Definitions | dict[str, Any], *, prune: bool = False) -> Plan:
        """What `apply` would change; every view is checked against its source first."""
        if not isinstance(defs, Definitions):
            defs = parse_definitions(defs)
        from pmle.storage import schema as t

        with self._ws.engine.begin() as conn:
            old_entities = self._latest(conn, t.feature_entities)
            old_views = self._latest(conn, t.feature_views)
        known = [
            e
            for name, row in old_entities.items()
            if not defs.entity(name)
            for e in [Entity(name, tuple(row.spec["join_keys"]), row.spec.get("description", ""))]
        ]
        check_definitions(defs, known)
        entities = {e.name: e for e in (*known, *defs.entities)}
        self._check_sources(defs.views, entities)
        plan = Plan()
        for entity in defs.entities:
            old = old_entities.get(entity.name)
            if old is None:
                plan.changes.append(Change("create", "entity", entity.name))
            elif old.spec != entity.to_dict():
                plan.changes.append(
                    Change("update", "entity", entity.name, _diff(old.spec, entity.to_dict()))
                )
            else:
                plan.changes.append(Change("unchanged", "entity", entity.name))
        for view in defs.views:
            old = old_views.get(view.name)
            if old is None:
                plan.changes.append(Change("create", "feature view", view.name))
            elif old.spec != view.to_dict():
                plan.changes.append(
                    Change("update", "feature view", view.name, _diff(old.spec, view.to_dict()))
                )
            else:
                plan.changes.append(Change("unchanged", "feature view", view.name))
        if prune:  # views only: entities stay, since old view versions still name them
            declared = {v.name for v in defs.views}
            for name in sorted(set(old_views) - declared):
                plan.changes.append(Change("delete", "feature view", name))
        return plan

    def apply(self, defs: Definitions | dict[str, Any], *, prune: bool = False) -> Plan:
        """Register the definitions: a new version of every changed entity and view."""
        if not isinstance(defs, Definitions):
            defs = parse_definitions(defs)
        plan = self.plan(defs, prune=prune)
        if not plan.has_changes:
            return plan
        from pmle._util import utcnow
        from pmle.storage import schema as t

        entities = {e.name: e for e in defs.entities}
        views = {v.name: v for v in defs.views}
        sources = {v.name: self._source_artifacts(v) for v in defs.views}  # before the write
        lineage = self._ws.lineage
        with self._ws.engine.begin() as conn:
            for change in plan.changes:
                if change.action == "unchanged":
                    continue
                table = t.feature_entities if change.kind == "entity" else t.feature_views
                version = self._next_version(conn, table, change.name)
                if change.kind == "entity":
                    conn.execute(
                        table.insert().values(
                            name=change.name,
                            version=version,
                            spec=entities[change.name].to_dict(),
                            created_at=utcnow(),
                        )
                    )
                    continue
                if change.action == "delete":
                    conn.execute(
                        table.insert().values(
                            name=change.name,
                            version=version,
                            spec={},
                            deleted=True,
                            created_at=utcnow(),
                        )
                    )
                    continue
                view = views[change.name]
                artifact_id = lineage.add_artifact(
                    conn,
                    ARTIFACT_TYPE,
                    f"{view.name}@{version}",
                    f"pmle://features/{view.name}/versions/{version}",
                    {"features": view.feature_names, "entities": list(view.entities)},
                )
                lineage.record_execution(
                    conn,
                    "ApplyFeatureView",
                    name=f"apply {view.name}@{version}",
                    inputs=[(i, "source") for i in sources[view.name]],
                    outputs=[(artifact_id, "feature_view")],
                    properties={"action": change.action},
                )
                conn.execute(
                    table.insert().values(
                        name=view.name,
                        version=version,
                        spec=view.to_dict(),
                        artifact_id=artifact_id,
                        deleted=False,
                        created_at=utcnow(),
                    )
                )
        return plan

    @staticmethod
    def _next_version(conn: Connection, table: Any, name: str) -> int:
        import sqlalchemy as sa

        top = conn.execute(sa.select(sa.func.max(table.c.version)).where(table.c.name == name))
        return int(top.scalar() or 0) + 1

    def _source_artifacts(self, view: FeatureView) -> list[int]:
        """Lineage ids of the dataset versions a view's source reads."""
        if view.dataset is not None:
            dv = self._ws.datasets.get(view.dataset)
            return [dv.lineage_artifact_id] if dv.lineage_artifact_id else []
        from pmle.sqlml.lexer import tokenize

        names = {t.text for t in tokenize(view.sql or "") if t.kind in {"word", "name"}}
        ids = []
        for summary in self._ws.datasets.list():
            if summary.name in names:
                dv = self._ws.datasets.get(summary.name)
                if dv.lineage_artifact_id:
                    ids.append(dv.lineage_artifact_id)
        return ids

    # -- sources --------------------------------------------------------------------------------

    def source_sql(self, view: FeatureView) -> str:
        """The SQL relation a view reads (a dataset view or the view's query)."""
        if view.dataset is not None:
            self._ws.datasets.get(view.dataset)  # NotFound names the datasets
            return f"SELECT * FROM {quote_ident(view.dataset)}"
        return str(view.sql)

    def _check_sources(self, views: Iterable[FeatureView], entities: dict[str, Entity]) -> None:
        views = list(views)
        if not views:
            return
        import duckdb

        with self._ws.warehouse.connect(read_only=True) as con:
            for view in views:
                try:
                    sql = self.source_sql(view)
                except NotFound as exc:
                    raise InvalidInput(
                        f"feature view {view.name!r}: {exc.message}", hint=exc.hint
                    ) from None
                try:
                    described = con.execute(f"DESCRIBE SELECT * FROM ({sql}) LIMIT 0").fetchall()
                except duckdb.Error as exc:
                    first = str(exc).strip().splitlines()[0]
                    raise InvalidInput(
                        f"feature view {view.name!r}: its source query fails: {first}"
                    ) from None
                types = {str(r[0]): str(r[1]).upper() for r in described}
                self._check_columns(view, types, entities)

    @staticmethod
    def _check_columns(
        view: FeatureView, types: dict[str, str], entities: dict[str, Entity]
    ) -> None:
        have = ", ".join(types)
        keys = [k for e in view.entities for k in entities[e].join_keys]
        for key in keys:
            if key not in types:
                raise InvalidInput(
                    f"feature view {view.name!r}: its source lacks join key {key!r}",
                    hint=f"the source has: {have}",
                )
        ts = types.get(view.timestamp)
        if ts is None:
            raise InvalidInput(
                f"feature view {view.name!r}: its source lacks timestamp column {view.timestamp!r}",
                hint=f"the source has: {have}",
            )
        if not any(ts.startswith(t) for t in DTYPES["timestamp"]):
            raise InvalidInput(
                f"feature view {view.name!r}: timestamp column {view.timestamp!r} is {ts}",
                hint="cast it to TIMESTAMP in the source query",
            )
        for feature in view.features:
            found = types.get(feature.name)
            if found is None:
                raise InvalidInput(
                    f"feature view {view.name!r}: its source lacks feature column {feature.name!r}",
                    hint=f"the source has: {have}",
                )
            if not any(found.startswith(t) for t in DTYPES[feature.dtype]):
                raise InvalidInput(
                    f"feature view {view.name!r}: feature {feature.name!r} is declared "
                    f"{feature.dtype} but the source has {found}",
                    hint="fix the declared dtype or cast the column in the source",
                )

    def join_keys(self, view: FeatureView) -> list[str]:
        """The join keys of a view's entities, in order."""
        return [k for e in view.entities for k in self.entity(e).join_keys]

    # -- capabilities in their own modules --------------------------------------------------------

    def training_set(self, entities: Any, features: Iterable[str], **kwargs: Any) -> Any:
        """Point-in-time correct features for each entity row (see `pmle.features.retrieval`)."""
        from pmle.features.retrieval import training_set

        return training_set(self, entities, list(features), **kwargs)

    def feature_values(self, view: str, **kwargs: Any) -> Any:
        """A view's feature rows in a time range, or the latest per entity (`latest=True`)."""
        from pmle.features.retrieval import feature_values

        return feature_values(self, view, **kwargs)

    @property
    def online(self) -> OnlineStore:
        """The online store named by the workspace's settings (SQLite by default)."""
        if self._online is None:
            from pmle.features.online import open_online_store

            self._online = open_online_store(
                self._ws.settings.online_store_url, self._ws.state_dir / "online"
            )
        return self._online

    def materialize(
        self, views: Iterable[str] | None = None, **kwargs: Any
    ) -> list[MaterializationRun]:
        """Copy the latest feature values per entity into the online store."""
        from pmle.features.materialize import materialize

        return materialize(self, views, **kwargs)

    def online_features(
        self, features: Iterable[str], entity_rows: Iterable[dict[str, Any]], **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Feature values for entity rows from the online store."""
        from pmle.features.materialize import online_features

        return online_features(self, list(features), list(entity_rows), **kwargs)

    def freshness(self, views: Iterable[str] | None = None) -> list[Freshness]:
        """Per view (every one, or those named): the newest event, how far the online store is
        materialized, the lag."""
        from pmle.features.materialize import freshness

        return freshness(self, views)

    def connect_warehouse(self) -> Any:
        """A read-only warehouse connection (context manager) with dataset views."""
        return self._ws.warehouse.connect(read_only=True)

    def connect_sources(self, views: Iterable[FeatureView], warehouse: bool = False) -> Any:
        """A read-only connection (context manager) that can read the views' sources: the
        process's in-memory database when every source is a dataset version (no file lock,
        warm memory), the warehouse file when one is a query — or when `warehouse` asks for
        it, as an entity table named in the warehouse does."""
        datasets = [view.dataset for view in views]
        if warehouse or any(d is None for d in datasets):
            return self.connect_warehouse()
        return self._ws.warehouse.memory(str(d) for d in datasets)

    @property
    def workspace(self) -> Workspace:
        """The workspace."""
        return self._ws
