"""Feast interoperability, reading: a Feast feature repository read without importing Feast.

`read_feast_repo` parses `feature_store.yaml` and evaluates the repository's Python files
statically with `ast`: module-level assignments, imports between the repository's files, and
the few calls repositories use to build values (`timedelta`, `Duration`, `os.path.join`,
`Path(__file__).parent / …`). No repository code runs. Like `feast apply`, it reads every `.py`
file that `.feastignore` does not exclude and collects the Feast objects bound to module-level
names. What pmle cannot import (on-demand and stream feature views, push / request / stream /
warehouse sources, feature services, unsupported types) is listed in `skipped` with a reason.

Importing into a workspace is :mod:`pmle.features.feast_import`; the static evaluation of the
Python files is :mod:`pmle.features.feast_eval`.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pmle.errors import InvalidInput
from pmle.features.feast_eval import (
    _Ext,
    _Module,
    _Obj,
    _Parser,
    _plain,
    _shown,
)

if TYPE_CHECKING:
    from pmle.features.definitions import Definitions
    from pmle.features.store import Plan

__all__ = [
    "FeastEntity",
    "FeastField",
    "FeastImport",
    "FeastRepo",
    "FeastSource",
    "FeastView",
    "Skipped",
    "read_feast_repo",
]

#: Feast types (`feast.types` and the older `ValueType` names) → pmle dtypes.
DTYPES = {
    **dict.fromkeys(("Int32", "Int64", "INT32", "INT64"), "int64"),
    **dict.fromkeys(("Float32", "Float64", "FLOAT", "DOUBLE"), "float64"),
    **dict.fromkeys(("String", "STRING"), "string"),
    **dict.fromkeys(("Bool", "BOOL"), "bool"),
    **dict.fromkeys(("UnixTimestamp", "UNIX_TIMESTAMP"), "timestamp"),
}
_STREAMS = "stream sources are not supported"
SKIP_REASONS = {
    "FeatureService": "feature services are not imported: name the features (view:feature) "
    "in training_set / online_features instead",
    "OnDemandFeatureView": "on-demand feature views run Python at request time; pmle serves "
    "stored feature values only",
    "StreamFeatureView": "stream feature views are not supported",
    "BatchFeatureView": "batch feature views (with transformations) are not supported",
    "LabelView": "label views are not supported",
    "RequestSource": "request sources carry data sent with each request; pmle has none",
    "PushSource": "pushing rows into the store is not supported",
    "KafkaSource": _STREAMS,
    "KinesisSource": _STREAMS,
    "Project": "Feast project objects are not imported (a workspace has no projects)",
    "Permission": "Feast permissions are not imported",
}
_DECORATORS = {
    "on_demand_feature_view": "OnDemandFeatureView",
    "stream_feature_view": "StreamFeatureView",
    "batch_feature_view": "BatchFeatureView",
}
#: What `feast apply` never reads, besides the globs in .feastignore.
_IGNORED = (".git", ".venv", "**/.ipynb_checkpoints", "**/.pytest_cache", "**/__pycache__")
#: Arrow type tests (pyarrow.types) → the dtype of a feature inferred from a column.
_ARROW_DTYPES = (
    ("bool", "is_boolean"),
    ("int64", "is_integer"),
    ("float64", "is_floating"),
    ("float64", "is_decimal"),
    ("string", "is_string"),
    ("string", "is_large_string"),
    ("timestamp", "is_timestamp"),
    ("timestamp", "is_date"),
)


@dataclass(frozen=True)
class Skipped:
    """A Feast object (or a feature) that was not imported, and why."""

    kind: str
    name: str
    file: str
    line: int
    reason: str


@dataclass(frozen=True)
class FeastEntity:
    """A Feast entity."""

    name: str
    join_keys: tuple[str, ...]
    description: str
    file: str
    line: int


@dataclass(frozen=True)
class FeastSource:
    """A Feast FileSource; `path` is resolved against the repository folder."""

    name: str
    path: str
    timestamp_field: str
    created_timestamp_column: str
    field_mapping: dict[str, str]
    description: str
    file: str
    line: int


@dataclass(frozen=True)
class FeastField:
    """A feature of a view: its Feast type and the pmle dtype it maps to."""

    name: str
    feast_dtype: str
    dtype: str


@dataclass(frozen=True)
class FeastView:
    """A Feast FeatureView over a file source. `fields` is None when the view declares no
    schema (Feast then infers the features from the source's columns)."""

    name: str
    entities: tuple[str, ...]
    source: str
    ttl: float | None  # seconds; None: never expires (Feast's ttl of 0 or none)
    fields: tuple[FeastField, ...] | None
    online: bool
    description: str
    owner: str
    tags: dict[str, str]
    file: str
    line: int


@dataclass(frozen=True)
class FeastRepo:
    """What a Feast repository holds, as far as pmle imports it."""

    path: str
    project: str
    registry: Any
    provider: str
    online_store: Any
    offline_store: Any
    files: tuple[str, ...]
    entities: tuple[FeastEntity, ...]
    sources: tuple[FeastSource, ...]
    views: tuple[FeastView, ...]
    skipped: tuple[Skipped, ...]
    notes: tuple[str, ...] = ()

    def source(self, name: str) -> FeastSource:
        """A file source by name."""
        return next(s for s in self.sources if s.name == name)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class FeastImport:
    """What `import_feast_repo` did."""

    repo: FeastRepo  # its `skipped` includes features skipped while inferring schemas
    datasets: dict[str, str]  # source name → the dataset version imported (NAME@VERSION)
    definitions: Definitions
    plan: Plan
    applied: bool
    notes: tuple[str, ...] = ()

    @property
    def online_views(self) -> list[str]:
        """The views Feast materializes (`online=True`): pass to `ws.features.materialize`."""
        return [v.name for v in self.repo.views if v.online]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "repo": self.repo.path,
            "project": self.repo.project,
            "datasets": dict(self.datasets),
            "entities": [e.name for e in self.definitions.entities],
            "views": [v.name for v in self.definitions.views],
            "skipped": [asdict(s) for s in self.repo.skipped],
            "notes": list(self.notes),
            "plan": self.plan.to_dict(),
            "applied": self.applied,
        }


# -- reading a repository -----------------------------------------------------------------------


def _feastignore(root: Path) -> set[Path]:
    """The files `feast apply` skips: .feastignore's globs (files, or folders' .py files)."""
    patterns = list(_IGNORED)
    ignore_file = root / ".feastignore"
    if ignore_file.is_file():
        for line in ignore_file.read_text(encoding="utf-8").splitlines():
            if line := line.split("#", 1)[0].strip():
                patterns.append(line)
    out: set[Path] = set()
    for pattern in patterns:
        for match in root.glob(pattern):
            out |= {match} if match.is_file() else set(match.glob("**/*.py"))
    return {p.resolve() for p in out}


def _config(root: Path) -> dict[str, Any]:
    import yaml

    path = root / "feature_store.yaml"
    if not path.is_file():
        raise InvalidInput(
            f"{root} is not a Feast feature repository: it has no feature_store.yaml",
            hint="give the folder that holds feature_store.yaml (Feast's repo_path)",
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InvalidInput(f"feature_store.yaml{line}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput("feature_store.yaml must be a mapping (project:, registry:, …)")
    return data


@dataclass
class _Collected:
    root: Path
    entities: dict[str, FeastEntity] = field(default_factory=dict)
    sources: dict[int, FeastSource | Skipped] = field(default_factory=dict)
    views: dict[str, FeastView] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def skip(self, obj: _Obj, reason: str, kind: str = "", name: str = "") -> Skipped:
        given = obj.get("name", position=0)
        name = name or (str(given) if _plain([given]) else "(unnamed)")
        item = Skipped(kind or obj.kind, name, obj.file, obj.line, reason)
        self.skipped.append(item)
        return item


def _entity(obj: _Obj) -> FeastEntity:
    name = obj.text("name", position=0)
    keys = obj.get("join_keys")
    if keys is None:  # the older join_key=, else Feast's default: the entity's name
        keys = [obj.text("join_key") or name]
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise InvalidInput(f"{obj.where}: join_keys of entity {name!r} must be a list of names")
    return FeastEntity(name, tuple(keys), obj.text("description"), obj.file, obj.line)


def _source(obj: _Obj, out: _Collected) -> FeastSource | Skipped:
    """A FileSource, or the record of skipping it; once per object."""
    if id(obj) not in out.sources:
        out.sources[id(obj)] = _file_source(obj, out)
    return out.sources[id(obj)]


def _file_source(obj: _Obj, out: _Collected) -> FeastSource | Skipped:
    if obj.kind != "FileSource":
        return out.skip(obj, SKIP_REASONS.get(obj.kind, "only file (Parquet) sources are imported"))
    path = obj.text("path")
    name = obj.text("name") or path  # Feast names a source by its path by default
    if not path:
        raise InvalidInput(f"{obj.where}: FileSource {name!r} has no path")
    fmt = obj.get("file_format")
    fmt_name = fmt.kind if isinstance(fmt, _Obj) else "ParquetFormat"
    if urlparse(path).scheme not in {"", "file"} and not re.match(r"^[A-Za-z]:[\\/]", path):
        return out.skip(obj, f"remote path {path}: only local files are imported", name=name)
    if fmt_name != "ParquetFormat":
        return out.skip(obj, f"{fmt_name} files are not supported, only Parquet", name=name)
    local = Path(urlparse(path).path if path.startswith("file:") else path)
    mapping = obj.get("field_mapping") or {}
    if not isinstance(mapping, dict):
        raise InvalidInput(f"{obj.where}: field_mapping of {name!r} must be a literal dict")
    return FeastSource(
        name=name,
        path=str(local if local.is_absolute() else out.root / local),
        timestamp_field=obj.text("timestamp_field") or obj.text("event_timestamp_column"),
        created_timestamp_column=obj.text("created_timestamp_column"),
        field_mapping={str(k): str(v) for k, v in mapping.items()},
        description=obj.text("description"),
        file=obj.file,
        line=obj.line,
    )


def _fields(obj: _Obj, view: str, columns: set[str], out: _Collected) -> list[FeastField] | None:
    """The view's features from `schema=` (or the older `features=`); join key and timestamp
    columns listed there are not features."""
    schema = obj.get("schema") if obj.has("schema") else obj.get("features")
    if schema is None:
        return None
    if not isinstance(schema, list):
        raise InvalidInput(f"{obj.where}: schema of feature view {view!r} must be a list")
    fields = []
    for item in schema:
        if not isinstance(item, _Obj) or item.kind not in {"Field", "Feature"}:
            raise InvalidInput(
                f"{obj.where}: the schema of {view!r} holds {_shown(item)}, not a Field"
            )
        name = item.text("name", position=0)
        dtype = item.get("dtype", item.get("value_type"), position=1)
        feast_dtype = dtype.last if isinstance(dtype, _Ext) else str(getattr(dtype, "text", dtype))
        if name in columns:
            continue
        if feast_dtype not in DTYPES:
            out.skip(item, f"type {feast_dtype} has no pmle dtype", "feature", f"{view}:{name}")
            continue
        fields.append(FeastField(name, feast_dtype, DTYPES[feast_dtype]))
    return fields


def _view(obj: _Obj, out: _Collected, bound: list[_Obj]) -> None:
    name = obj.text("name", position=0)
    if name in out.views:
        first = out.views[name]
        raise InvalidInput(
            f"{obj.where}: feature view {name!r} is also defined at {first.file}:{first.line}"
        )
    raw = obj.get("source") if obj.has("source") else obj.get("batch_source")
    if not isinstance(raw, _Obj):
        out.skip(obj, "it reads other feature views" if isinstance(raw, list) else "no source")
        return
    source = _source(raw, out)
    batch = raw.get("batch_source")
    if isinstance(source, Skipped) and isinstance(batch, _Obj):
        source = _source(batch, out)  # Feast reads push / stream views from the batch source
        if isinstance(source, FeastSource):
            out.notes.append(
                f"feature view {name!r} reads {raw.kind} {source.name!r}: imported from its "
                "batch source; rows pushed or streamed to Feast are not"
            )
    if isinstance(source, Skipped):
        out.skip(obj, f"its source {source.name!r} is skipped: {source.reason}")
        return
    entities: list[str] = []
    for item in obj.get("entities") or []:
        if isinstance(item, _Obj) and item.kind == "Entity":
            entity = _entity(item)
            if all(item is not b for b in bound):  # built inline in the view
                out.entities.setdefault(entity.name, entity)
            entities.append(entity.name)
        elif isinstance(item, str):  # older Feast named entities
            entities.append(item)
        elif isinstance(item, _Ext) and item.qualname.startswith("builtins."):
            entities.append(item.last)  # a name the repository never assigns
        else:
            raise InvalidInput(
                f"{obj.where}: feature view {name!r} lists {_shown(item)} as an entity"
            )
        if entities[-1] not in out.entities:
            raise InvalidInput(
                f"{obj.where}: feature view {name!r} uses entity {entities[-1]!r}, which the "
                "repository does not define",
                hint=f"entities defined: {', '.join(sorted(out.entities)) or 'none'}",
            )
    if not entities:
        out.skip(obj, "feature views without entities are not supported")
        return
    keys = {k for e in entities for k in out.entities[e].join_keys}
    fields = _fields(obj, name, keys | {source.timestamp_field}, out)
    if fields == []:
        out.skip(obj, "none of its features has a type pmle supports")
        return
    tags, online = obj.get("tags") or {}, obj.get("online", True)
    if not isinstance(tags, dict) or not isinstance(online, bool):
        raise InvalidInput(f"{obj.where}: tags= and online= of {name!r} must be literal values")
    ttl = obj.get("ttl")
    if ttl is not None and not isinstance(ttl, timedelta):
        raise InvalidInput(
            f"{obj.where}: the ttl of feature view {name!r} is not a timedelta pmle can read "
            f"statically ({_shown(ttl)})",
            hint="write ttl=timedelta(days=…) with literal numbers",
        )
    out.views[name] = FeastView(
        name=name,
        entities=tuple(entities),
        source=source.name,
        ttl=(ttl.total_seconds() or None) if ttl is not None else None,  # 0: never expires
        fields=None if fields is None else tuple(fields),
        online=online,
        description=obj.text("description"),
        owner=obj.text("owner"),
        tags={str(k): str(v) for k, v in tags.items()},
        file=obj.file,
        line=obj.line,
    )
    if source.created_timestamp_column:
        out.notes.append(
            f"feature view {name!r}: created_timestamp_column "
            f"{source.created_timestamp_column!r} is not used (rows with equal event times are "
            "not ordered by it)"
        )
    if not online:
        out.notes.append(f"feature view {name!r} has online=False: Feast does not materialize it")


def _bound_objects(parser: _Parser, module: _Module, out: _Collected) -> list[_Obj]:
    """The Feast objects bound to a module's names (what Feast's parse_repo collects);
    decorated functions that define feature views are recorded as skipped."""
    found = []
    for name, bound in parser.load(module).symbols.items():
        if isinstance(bound, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in bound.decorator_list:
                call = deco if isinstance(deco, ast.Call) else None
                callee = parser.value(call.func if call else deco, module)
                kind = _DECORATORS.get(getattr(callee, "last", ""))
                if kind:
                    given = [k.value for k in (call.keywords if call else []) if k.arg == "name"]
                    label = parser.value(given[0], module) if given else name
                    item = Skipped(kind, str(label), module.rel, deco.lineno, SKIP_REASONS[kind])
                    out.skipped.append(item)
        elif not isinstance(bound, ast.stmt):
            value = parser.symbol(module, name)
            if isinstance(value, _Obj):
                found.append(value)
    return found


def read_feast_repo(path: str | os.PathLike[str]) -> FeastRepo:
    """Parse a Feast feature repository — feature_store.yaml and its Python definitions —
    without importing Feast or running the repository's code."""
    root = Path(path).expanduser().resolve()
    config = _config(root)
    parser = _Parser(root)
    ignored = _feastignore(root)
    out = _Collected(root)
    bound: list[_Obj] = []
    files = []
    for module in parser.modules.values():
        if module.path.resolve() in ignored or module.path.name == "__init__.py":
            continue
        files.append(module.rel)
        for obj in _bound_objects(parser, module, out):
            if all(obj is not b for b in bound):  # an import binds the same object again
                bound.append(obj)
    for obj in bound:
        if obj.kind == "Entity":
            entity = _entity(obj)
            if entity.name in out.entities:
                first = out.entities[entity.name]
                raise InvalidInput(
                    f"{obj.where}: entity {entity.name!r} is also defined at "
                    f"{first.file}:{first.line}"
                )
            out.entities[entity.name] = entity
    for obj in bound:
        if obj.kind == "FeatureView":
            _view(obj, out, bound)
        elif obj.kind.endswith("Source"):
            _source(obj, out)
        elif obj.kind in SKIP_REASONS:
            out.skip(obj, SKIP_REASONS[obj.kind])
    online = config.get("online_store", {"type": "sqlite"})
    online_type = online.get("type") if isinstance(online, dict) else online
    if online_type not in {None, "sqlite"}:
        out.notes.append(
            f"Feast's online store {online_type!r} is not used: pmle materializes into the "
            "workspace's online store"
        )

    def by_place(items: Any) -> tuple[Any, ...]:
        return tuple(sorted(items, key=lambda item: (item.file, item.line)))

    return FeastRepo(
        path=str(root),
        project=str(config.get("project") or ""),
        registry=config.get("registry"),
        provider=str(config.get("provider") or "local"),
        online_store=online,
        offline_store=config.get("offline_store", {"type": "dask"}),
        files=tuple(files),
        entities=by_place(out.entities.values()),
        sources=by_place(s for s in out.sources.values() if isinstance(s, FeastSource)),
        views=by_place(out.views.values()),
        skipped=by_place(dict.fromkeys(out.skipped)),
        notes=tuple(dict.fromkeys(out.notes)),
    )
