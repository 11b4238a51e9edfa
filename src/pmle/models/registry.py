"""The model registry: named models, numbered versions and movable aliases (Vertex AI style).

- The first version of a model gets the alias `default`; exactly one version holds it, always.
- An alias is unique within a model: setting it on another version moves it.
- `latest` is reserved: it always means the newest version and cannot be set.
- Version numbers are never reused, even after a version or the whole model is deleted: the
  lineage graph keeps `NAME@V` as the name of one model version only.

A model version's folder goes into the content-addressed artifact store *before* the metadata
transaction, so an aborted register leaves nothing registered (at most an unreferenced object).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle._util import check_alias, check_name, parse_ref, utcnow
from pmle.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Connection

    from pmle.models.format import LoadedModel
    from pmle.models.signature import Signature
    from pmle.workspace import Workspace

DEFAULT_ALIAS = "default"
LATEST = "latest"


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model."""

    name: str
    version: int
    flavor: str
    tree_key: str
    manifest: dict[str, Any] = field(hash=False, compare=False, repr=False)
    aliases: tuple[str, ...]
    created_at: datetime
    lineage_artifact_id: int | None
    description: str = ""

    @property
    def ref(self) -> str:
        """`NAME@VERSION`."""
        return f"{self.name}@{self.version}"

    @property
    def task(self) -> str | None:
        """The model's task from its manifest."""
        return self.manifest.get("task")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (CLI, REST API)."""
        return {
            "ref": self.ref,
            "name": self.name,
            "version": self.version,
            "flavor": self.flavor,
            "task": self.task,
            "aliases": list(self.aliases),
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "tree_key": self.tree_key,
            "lineage_artifact_id": self.lineage_artifact_id,
            "manifest": self.manifest,
        }


@dataclass(frozen=True)
class RegisteredModel:
    """A model: its versions in summary."""

    name: str
    description: str
    created_at: datetime
    version_count: int
    default_version: int | None
    latest_version: int | None
    aliases: dict[str, int] = field(hash=False)  # alias -> version

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (CLI, REST API)."""
        return {
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "versions": self.version_count,
            "default_version": self.default_version,
            "latest_version": self.latest_version,
            "aliases": dict(self.aliases),
        }


def _model_uri(name: str, version: int) -> str:
    return f"pmle://models/{name}/versions/{version}"


def _check_settable(alias: str) -> str:
    check_alias(alias)
    if alias == LATEST:
        raise InvalidInput(
            f"the alias {LATEST!r} is reserved", hint="it always resolves to the newest version"
        )
    return alias


class Registry:
    """Models, versions and aliases of one workspace (`ws.models`)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # -- writing ----------------------------------------------------------------------------

    def register(
        self,
        name: str,
        model_or_path: Any,
        *,
        description: str = "",
        input_example: pd.DataFrame | None = None,
        signature: Signature | dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        task: str | None = None,
        inputs: list[int] | None = None,
        aliases: list[str] | tuple[str, ...] = (),
        execution: str = "Register",
        execution_properties: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Register a new version of `name` from a fitted model or a pmle model folder.

        `inputs` are lineage artifact ids of what the model was trained on (e.g.
        `ws.datasets.get("churn@1").lineage_artifact_id`); they are linked to the model by an
        execution of type `execution` (e.g. "AutoML"). The first version gets `default`.
        """
        from pmle.models.format import load_model, read_manifest, save_model

        check_name(name, "model name")
        wanted = list(dict.fromkeys(_check_settable(a) for a in aliases))
        input_ids = [int(i) for i in inputs or []]
        if isinstance(model_or_path, str | os.PathLike):
            extras = {
                "input_example": input_example,
                "signature": signature,
                "metrics": metrics,
                "task": task,
            }
            given = [k for k, v in extras.items() if v is not None]
            if given:
                raise InvalidInput(
                    f"{', '.join(given)} cannot be given with a model folder",
                    hint="they are read from its manifest; pass them to save_model instead",
                )
            folder = Path(model_or_path).expanduser()
            load_model(folder)  # refuse a folder that does not load
            manifest = read_manifest(folder)
            tree_key = self._ws.artifacts.put_tree(folder)
        else:
            lineage = {"inputs": self._describe_inputs(input_ids)} if input_ids else None
            with tempfile.TemporaryDirectory(prefix="pmle-register-") as tmp:
                folder = save_model(
                    model_or_path,
                    Path(tmp) / "model",
                    input_example=input_example,
                    signature=signature,
                    metrics=metrics,
                    task=task,
                    lineage=lineage,
                )
                manifest = read_manifest(folder)
                tree_key = self._ws.artifacts.put_tree(folder)

        import sqlalchemy as sa

        from pmle.storage import schema as t

        with self._ws.engine.begin() as conn:
            self._check_inputs(conn, input_ids)
            model_id = conn.execute(
                sa.select(t.models.c.id).where(t.models.c.name == name)
            ).scalar()
            now = utcnow()
            if model_id is None:
                model_id = conn.execute(
                    t.models.insert().values(name=name, description=description, created_at=now)
                ).inserted_primary_key[0]  # type: ignore[index]
            version = self._next_version(conn, model_id, name)
            ref = f"{name}@{version}"
            artifact_id = self._ws.lineage.add_artifact(
                conn,
                "Model",
                ref,
                _model_uri(name, version),
                {"flavor": manifest["flavor"], "task": manifest.get("task"), "tree_key": tree_key},
            )
            version_id = conn.execute(
                t.model_versions.insert().values(
                    model_id=model_id,
                    version=version,
                    flavor=manifest["flavor"],
                    tree_key=tree_key,
                    manifest=manifest,
                    description=description,
                    lineage_artifact_id=artifact_id,
                    created_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            if input_ids or execution_properties:  # what made it, when there is something to say
                self._ws.lineage.record_execution(
                    conn,
                    execution,
                    name=f"{execution.lower()} {ref}",
                    inputs=[(i, "input") for i in input_ids],
                    outputs=[(artifact_id, "model")],
                    properties=execution_properties,
                )
            has_default = conn.execute(
                sa.select(t.model_aliases.c.alias).where(
                    t.model_aliases.c.model_id == model_id,
                    t.model_aliases.c.alias == DEFAULT_ALIAS,
                )
            ).first()
            if has_default is None and DEFAULT_ALIAS not in wanted:
                wanted.insert(0, DEFAULT_ALIAS)
            for alias in wanted:
                self._put_alias(conn, model_id, alias, version_id)
            return self._version_by_number(conn, name, model_id, version)

    def set_alias(self, ref: str, alias: str) -> ModelVersion:
        """Point `alias` at the version `ref` names (moving it from another version)."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        _check_settable(alias)
        with self._ws.engine.begin() as conn:
            mv = self._resolve(conn, ref)
            model_id = self._model_id(conn, mv.name)
            version_id = conn.execute(
                sa.select(t.model_versions.c.id).where(
                    t.model_versions.c.model_id == model_id,
                    t.model_versions.c.version == mv.version,
                )
            ).scalar_one()
            self._put_alias(conn, model_id, alias, version_id)
            return self._version_by_number(conn, mv.name, model_id, mv.version)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias from a model; `default` can only be moved, not deleted."""
        from pmle.storage import schema as t

        if "@" in str(name):
            raise InvalidInput(
                f"give the model name, not a version: {name!r}",
                hint=f"delete_alias({str(name).split('@')[0]!r}, {alias!r})",
            )
        check_name(name, "model name")
        check_alias(alias)
        if alias == LATEST:
            raise InvalidInput(f"the alias {LATEST!r} is reserved and cannot be deleted")
        if alias == DEFAULT_ALIAS:
            raise Conflict(
                f"the alias {DEFAULT_ALIAS!r} cannot be deleted: one version always holds it",
                hint=f"move it instead: set_alias('{name}@VERSION', 'default')",
            )
        with self._ws.engine.begin() as conn:
            model_id = self._model_id(conn, name)
            deleted = conn.execute(
                t.model_aliases.delete().where(
                    t.model_aliases.c.model_id == model_id, t.model_aliases.c.alias == alias
                )
            ).rowcount
            if not deleted:
                raise NotFound(
                    f"model {name!r} has no alias {alias!r}",
                    hint=self._aliases_hint(conn, model_id),
                )

    def delete_version(self, ref: str) -> ModelVersion:
        """Delete one version; refused for the version holding `default` while others exist."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        with self._ws.engine.begin() as conn:
            mv = self._resolve(conn, ref)
            model_id = self._model_id(conn, mv.name)
            if DEFAULT_ALIAS in mv.aliases:
                count = conn.execute(
                    sa.select(sa.func.count()).where(t.model_versions.c.model_id == model_id)
                ).scalar_one()
                if count == 1:
                    raise Conflict(
                        f"{mv.ref} is the only version of model {mv.name!r}",
                        hint=f"delete the model instead: `pmle models delete {mv.name} --yes`",
                    )
                raise Conflict(
                    f"{mv.ref} holds the alias 'default'",
                    hint=f"move it to another version first: `pmle models alias "
                    f"{mv.name}@VERSION default`",
                )
            version_id = conn.execute(
                sa.select(t.model_versions.c.id).where(
                    t.model_versions.c.model_id == model_id,
                    t.model_versions.c.version == mv.version,
                )
            ).scalar_one()
            conn.execute(t.model_aliases.delete().where(t.model_aliases.c.version_id == version_id))
            conn.execute(t.model_versions.delete().where(t.model_versions.c.id == version_id))
            self._mark_deleted(conn, [mv.lineage_artifact_id])
            return mv

    def delete_model(self, name: str) -> int:
        """Delete a model with all its versions and aliases; returns how many versions went."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        check_name(name, "model name")
        with self._ws.engine.begin() as conn:
            model_id = self._model_id(conn, name)
            rows = conn.execute(
                sa.select(t.model_versions.c.lineage_artifact_id).where(
                    t.model_versions.c.model_id == model_id
                )
            ).all()
            conn.execute(t.model_aliases.delete().where(t.model_aliases.c.model_id == model_id))
            conn.execute(t.model_versions.delete().where(t.model_versions.c.model_id == model_id))
            conn.execute(t.models.delete().where(t.models.c.id == model_id))
            self._mark_deleted(conn, [r[0] for r in rows])
            return len(rows)

    # -- reading ----------------------------------------------------------------------------

    def get(self, ref: str) -> ModelVersion:
        """`NAME` (the `default` version), `NAME@3`, `NAME@alias` or `NAME@latest`."""
        with self._ws.engine.connect() as conn:
            return self._resolve(conn, ref)

    def load(self, ref: str) -> LoadedModel:
        """Load a registered version for prediction."""
        from pmle.models.format import load_model

        mv = self.get(ref)
        return load_model(self._ws.artifacts.materialize_tree(mv.tree_key))

    def path(self, ref: str) -> Path:
        """The (read-only, cached) folder holding a version's model files."""
        return self._ws.artifacts.materialize_tree(self.get(ref).tree_key)

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of a model, oldest first."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        check_name(name, "model name")
        with self._ws.engine.connect() as conn:
            model_id = self._model_id(conn, name)
            aliases = self._aliases_by_version(conn, model_id)
            rows = conn.execute(
                sa.select(t.model_versions)
                .where(t.model_versions.c.model_id == model_id)
                .order_by(t.model_versions.c.version)
            ).all()
        return [_version(name, r, aliases.get(r.id, ())) for r in rows]

    def latest_versions(self, names: Sequence[str]) -> dict[str, ModelVersion]:
        """The newest version of each named model, in two queries whatever their number (for
        listings); names without versions are left out."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        wanted = sorted(set(names))
        if not wanted:
            return {}
        mv = t.model_versions
        newest = (
            sa.select(mv.c.model_id, sa.func.max(mv.c.version).label("version"))
            .group_by(mv.c.model_id)
            .subquery()
        )
        with self._ws.engine.connect() as conn:
            rows = conn.execute(
                sa.select(mv, t.models.c.name.label("model_name"))
                .join(t.models, t.models.c.id == mv.c.model_id)
                .join(
                    newest,
                    sa.and_(newest.c.model_id == mv.c.model_id, newest.c.version == mv.c.version),
                )
                .where(t.models.c.name.in_(wanted))
            ).all()
            aliases: dict[int, list[str]] = {}
            for r in conn.execute(
                sa.select(t.model_aliases.c.version_id, t.model_aliases.c.alias).where(
                    t.model_aliases.c.version_id.in_([r.id for r in rows])
                )
            ):
                aliases.setdefault(r.version_id, []).append(r.alias)
        return {
            r.model_name: _version(
                r.model_name,
                r,
                tuple(sorted(aliases.get(r.id, ()), key=lambda a: (a != DEFAULT_ALIAS, a))),
            )
            for r in rows
        }

    # -- internals ----------------------------------------------------------------------------

    def _describe_inputs(self, ids: list[int]) -> list[dict[str, Any]]:
        """Input artifacts as the manifest records them (ids are local to this workspace)."""
        out = []
        for i in ids:
            node = self._ws.lineage.artifact(i)
            out.append({"id": node.id, "type": node.type, "name": node.name, "uri": node.uri})
        return out

    @staticmethod
    def _check_inputs(conn: Connection, ids: list[int]) -> None:
        import sqlalchemy as sa

        from pmle.storage import schema as t

        if not ids:
            return
        found = set(
            conn.execute(sa.select(t.artifacts.c.id).where(t.artifacts.c.id.in_(ids))).scalars()
        )
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(
                f"no lineage artifact with id {', '.join(map(str, missing))}",
                hint="pass lineage_artifact_id values, e.g. ws.datasets.get('NAME@1')"
                ".lineage_artifact_id",
            )

    @staticmethod
    def _next_version(conn: Connection, model_id: int, name: str) -> int:
        """One more than any version this name ever had, registered now or in lineage."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        current = (
            conn.execute(
                sa.select(sa.func.max(t.model_versions.c.version)).where(
                    t.model_versions.c.model_id == model_id
                )
            ).scalar()
            or 0
        )
        prefix = f"{name}@"
        past = 0
        for (artifact_name,) in conn.execute(
            sa.select(t.artifacts.c.name).where(
                t.artifacts.c.type == "Model",
                t.artifacts.c.name.startswith(prefix, autoescape=True),
            )
        ):
            tail = artifact_name[len(prefix) :]
            if tail.isdigit():
                past = max(past, int(tail))
        return max(current, past) + 1

    @staticmethod
    def _put_alias(conn: Connection, model_id: int, alias: str, version_id: int) -> None:
        from pmle.storage import schema as t

        # Delete-then-insert moves the alias; the (model_id, alias) key keeps it unique.
        conn.execute(
            t.model_aliases.delete().where(
                t.model_aliases.c.model_id == model_id, t.model_aliases.c.alias == alias
            )
        )
        conn.execute(
            t.model_aliases.insert().values(model_id=model_id, alias=alias, version_id=version_id)
        )

    @staticmethod
    def _mark_deleted(conn: Connection, artifact_ids: list[int | None]) -> None:
        """Keep deleted versions in lineage (history), flagged as deleted."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        ids = [i for i in artifact_ids if i is not None]
        if not ids:
            return
        now = utcnow().isoformat()
        for row in conn.execute(
            sa.select(t.artifacts.c.id, t.artifacts.c.properties).where(t.artifacts.c.id.in_(ids))
        ).all():
            props = dict(row.properties or {})
            props["deleted_at"] = now
            conn.execute(
                t.artifacts.update().where(t.artifacts.c.id == row.id).values(properties=props)
            )

    def _model_id(self, conn: Connection, name: str) -> int:
        import sqlalchemy as sa

        from pmle.storage import schema as t

        model_id = conn.execute(sa.select(t.models.c.id).where(t.models.c.name == name)).scalar()
        if model_id is None:
            names = list(
                conn.execute(sa.select(t.models.c.name).order_by(t.models.c.name)).scalars()
            )
            raise NotFound(f"no model named {name!r}", hint=_names_hint(name, names))
        return int(model_id)

    @staticmethod
    def _aliases_by_version(conn: Connection, model_id: int) -> dict[int, tuple[str, ...]]:
        import sqlalchemy as sa

        from pmle.storage import schema as t

        out: dict[int, list[str]] = {}
        for r in conn.execute(
            sa.select(t.model_aliases.c.version_id, t.model_aliases.c.alias)
            .where(t.model_aliases.c.model_id == model_id)
            .order_by(t.model_aliases.c.alias)
        ):
            out.setdefault(r.version_id, []).append(r.alias)
        # `default` first, then the rest alphabetically.
        return {k: tuple(sorted(v, key=lambda a: (a != DEFAULT_ALIAS, a))) for k, v in out.items()}

    def _aliases_hint(self, conn: Connection, model_id: int) -> str:
        import sqlalchemy as sa

        from pmle.storage import schema as t

        rows = conn.execute(
            sa.select(t.model_aliases.c.alias, t.model_versions.c.version)
            .join(t.model_versions, t.model_versions.c.id == t.model_aliases.c.version_id)
            .where(t.model_aliases.c.model_id == model_id)
            .order_by(t.model_aliases.c.alias)
        ).all()
        listed = ", ".join(f"{r.alias} → {r.version}" for r in rows) or "none"
        return f"its aliases: {listed}"

    def _version_by_number(
        self, conn: Connection, name: str, model_id: int, version: int
    ) -> ModelVersion:
        import sqlalchemy as sa

        from pmle.storage import schema as t

        row = conn.execute(
            sa.select(t.model_versions).where(
                t.model_versions.c.model_id == model_id, t.model_versions.c.version == version
            )
        ).first()
        if row is None:
            versions = list(
                conn.execute(
                    sa.select(t.model_versions.c.version)
                    .where(t.model_versions.c.model_id == model_id)
                    .order_by(t.model_versions.c.version)
                ).scalars()
            )
            listed = ", ".join(map(str, versions)) or "none"
            raise NotFound(
                f"model {name!r} has no version {version}", hint=f"its versions: {listed}"
            )
        aliases = self._aliases_by_version(conn, model_id).get(row.id, ())
        return _version(name, row, aliases)

    def _resolve(self, conn: Connection, ref: str) -> ModelVersion:
        import sqlalchemy as sa

        from pmle.storage import schema as t

        parsed = parse_ref(ref)
        model_id = self._model_id(conn, parsed.name)
        if parsed.version is not None:
            return self._version_by_number(conn, parsed.name, model_id, parsed.version)
        alias = parsed.alias or DEFAULT_ALIAS
        if alias == LATEST:
            latest = conn.execute(
                sa.select(sa.func.max(t.model_versions.c.version)).where(
                    t.model_versions.c.model_id == model_id
                )
            ).scalar()
            if latest is None:
                raise NotFound(f"model {parsed.name!r} has no versions")
            return self._version_by_number(conn, parsed.name, model_id, int(latest))
        version = conn.execute(
            sa.select(t.model_versions.c.version)
            .join(t.model_aliases, t.model_aliases.c.version_id == t.model_versions.c.id)
            .where(t.model_aliases.c.model_id == model_id, t.model_aliases.c.alias == alias)
        ).scalar()
        if version is None:
            raise NotFound(
                f"model {parsed.name!r} has no alias {alias!r}",
                hint=self._aliases_hint(conn, model_id) + f"; or use a version ({parsed.name}@N)"
                f" or {parsed.name}@latest",
            )
        return self._version_by_number(conn, parsed.name, model_id, int(version))

    # Kept last in the class: after this def, `list` in annotations would mean the method.
    def list(self) -> list[RegisteredModel]:
        """Every model, by name, with its version count, `default` version and aliases."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        with self._ws.engine.connect() as conn:
            models = conn.execute(sa.select(t.models).order_by(t.models.c.name)).all()
            stats = {
                r.model_id: (r.n, r.latest)
                for r in conn.execute(
                    sa.select(
                        t.model_versions.c.model_id,
                        sa.func.count().label("n"),
                        sa.func.max(t.model_versions.c.version).label("latest"),
                    ).group_by(t.model_versions.c.model_id)
                )
            }
            alias_rows = conn.execute(
                sa.select(
                    t.model_aliases.c.model_id, t.model_aliases.c.alias, t.model_versions.c.version
                )
                .join(t.model_versions, t.model_versions.c.id == t.model_aliases.c.version_id)
                .order_by(t.model_aliases.c.alias)
            ).all()
        by_model: dict[int, dict[str, int]] = {}
        for r in alias_rows:
            by_model.setdefault(r.model_id, {})[r.alias] = r.version
        out = []
        for m in models:
            n, latest = stats.get(m.id, (0, None))
            aliases = by_model.get(m.id, {})
            out.append(
                RegisteredModel(
                    name=m.name,
                    description=m.description or "",
                    created_at=m.created_at,
                    version_count=n,
                    default_version=aliases.get(DEFAULT_ALIAS),
                    latest_version=latest,
                    aliases=aliases,
                )
            )
        return out


def _version(name: str, row: Any, aliases: tuple[str, ...]) -> ModelVersion:
    return ModelVersion(
        name=name,
        version=row.version,
        flavor=row.flavor,
        tree_key=row.tree_key,
        manifest=dict(row.manifest),
        aliases=tuple(aliases),
        created_at=row.created_at,
        lineage_artifact_id=row.lineage_artifact_id,
        description=row.description or "",
    )


def _names_hint(name: str, names: list[str]) -> str:
    import difflib

    if not names:
        return "no models are registered yet; register one with ws.models.register(NAME, model)"
    close = difflib.get_close_matches(name, names, n=3)
    if close:
        return f"did you mean {', '.join(close)}?"
    shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
    return f"registered models: {shown}"
