"""Feast interoperability, importing: each file source of a Feast repository (read by
:mod:`pmle.features.feast_repo`) becomes a dataset, and its entities and feature views become
pmle definitions over those datasets, planned and applied.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from pmle.errors import InvalidInput
from pmle.features.feast_repo import (
    _ARROW_DTYPES,
    FeastImport,
    FeastSource,
    FeastView,
    Skipped,
    read_feast_repo,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from pmle.features.definitions import Feature
    from pmle.workspace import Workspace

__all__ = ["import_feast_repo"]


def _dataset_name(source: FeastSource, prefix: str, taken: set[str]) -> str:
    base = source.name
    if base == source.path or "/" in base or "\\" in base:  # a source named by its path
        base = PurePath(base).name.split(".")[0]
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", prefix + base).strip(".") or "feast_source"
    base = base if base[0].isalpha() else f"feast_{base}"
    name, n = base[:120], 2
    while name in taken:
        name, n = f"{base[:116]}_{n}", n + 1
    taken.add(name)
    return name


def _read_source(source: FeastSource) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not Path(source.path).exists():
        raise InvalidInput(
            f"{source.file}:{source.line}: FileSource {source.name!r} reads {source.path}, "
            "which does not exist",
            hint="write the data first (a relative path is read from the repository folder)",
        )
    try:
        table = pq.read_table(source.path)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(
            f"{source.file}:{source.line}: cannot read {source.path} as Parquet "
            f"({str(exc).splitlines()[0]})"
        ) from None
    if source.field_mapping:
        table = table.rename_columns([source.field_mapping.get(c, c) for c in table.column_names])
    return table


def _inferred(
    view: FeastView, source: FeastSource, schema: pa.Schema, keys: set[str], skipped: list[Skipped]
) -> tuple[str, list[Feature]]:
    """Feast's inference from the source's columns: the one timestamp column when the
    source names none; the features when the view declares no schema."""
    import pyarrow.types as pt

    from pmle.features.definitions import Feature

    timestamp = source.timestamp_field
    if not timestamp:
        found = [
            f.name
            for f in schema
            if pt.is_timestamp(f.type) and f.name != source.created_timestamp_column
        ]
        if len(found) != 1:
            raise InvalidInput(
                f"{source.file}:{source.line}: FileSource {source.name!r} names no "
                f"timestamp_field and its file has {len(found)} timestamp columns",
                hint="set timestamp_field= on the FileSource",
            )
        timestamp = found[0]
    if view.fields is not None:
        return timestamp, [Feature(f.name, f.dtype) for f in view.fields]
    features = []
    for column in schema:
        if column.name in keys | {timestamp, source.created_timestamp_column}:
            continue
        typ = column.type
        dtype = next((d for d, test in _ARROW_DTYPES if getattr(pt, test)(typ)), None)
        if dtype is None:
            reason = f"column type {typ} has no pmle dtype"
            name = f"{view.name}:{column.name}"
            skipped.append(Skipped("feature", name, view.file, view.line, reason))
        else:
            features.append(Feature(column.name, dtype))
    return timestamp, features


def import_feast_repo(
    ws: Workspace, path: str | os.PathLike[str], *, dataset_prefix: str = "", apply: bool = True
) -> FeastImport:
    """Import a Feast repository into a workspace: each file source's Parquet data becomes a
    dataset (`dataset_prefix` + the source's name; an unchanged file is not stored twice), and
    its entities and feature views are planned — and with `apply`, applied — as definitions
    whose views read those datasets. The datasets are imported either way (the plan checks
    each view against its data)."""
    from pmle.features.definitions import Definitions, Entity, FeatureView

    repo = read_feast_repo(path)
    skipped, notes = list(repo.skipped), list(repo.notes)
    taken: set[str] = set()
    datasets: dict[str, str] = {}
    tables: dict[str, pa.Table] = {}
    names: dict[str, str] = {}
    for source in repo.sources:
        tables[source.name] = _read_source(source)
        names[source.name] = _dataset_name(source, dataset_prefix, taken)
        version = ws.datasets.import_(
            names[source.name],
            tables[source.name],
            description=f"Feast FileSource {source.name!r} ({source.path})",
        )
        datasets[source.name] = version.ref
    entities = {e.name: Entity(e.name, e.join_keys, e.description) for e in repo.entities}
    views = []
    for view in repo.views:
        source = repo.source(view.source)
        keys = {k for e in view.entities for k in entities[e].join_keys}
        timestamp, features = _inferred(view, source, tables[source.name].schema, keys, skipped)
        if view.fields is None:
            notes.append(
                f"feature view {view.name!r} declares no schema: features inferred from "
                f"{source.name!r}: {', '.join(f.name for f in features)}"
            )
        views.append(
            FeatureView(
                name=view.name,
                entities=view.entities,
                features=tuple(features),
                timestamp=timestamp,
                dataset=names[source.name],  # follows the newest version, as Feast reads the file
                ttl=view.ttl,
                description=view.description,
                owner=view.owner,
                tags=view.tags,
            )
        )
    defs = Definitions(tuple(entities.values()), tuple(views))
    plan = ws.features.apply(defs) if apply else ws.features.plan(defs)
    return FeastImport(
        repo=replace(repo, skipped=tuple(skipped)),
        datasets=datasets,
        definitions=defs,
        plan=plan,
        applied=apply,
        notes=tuple(notes),
    )
