"""Fairness reports of model versions (`ws.fairness`): load a classifier and the data to
evaluate it on, predict, measure with `fairness_metrics`, and store each report in the
`model_fairness` table.

The metric definitions, the report (`FairnessReport`) and its model-card section live in
`pmle.monitoring.fairness_metrics`; the names other code uses are re-exported here.

Regression models are refused: these metrics are defined on decisions (selected or not), and a
regressor has none until someone picks a threshold — train or pick a classifier of that decision.
"""

from __future__ import annotations

import builtins
import os
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput, NotFound
from pmle.monitoring.fairness_metrics import (
    MAX_GROUPS,
    MISSING,
    REST,
    FairnessReport,
    GroupMetrics,
    card_section,
    compute,
    slice_metrics,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.models.format import LoadedModel
    from pmle.workspace import Workspace

__all__ = [
    "MAX_GROUPS",
    "MISSING",
    "REST",
    "Fairness",
    "FairnessReport",
    "GroupMetrics",
    "card_section",
    "compute",
    "slice_metrics",
]


class Fairness:
    """Fairness reports of model versions (`ws.fairness`)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def evaluate(
        self,
        model_ref: str,
        data: Any,
        sensitive: str,
        *,
        label: str | None = None,
        positive: Any = None,
        slices: tuple[Any, ...] | builtins.list[Any] = (),
        save: bool = True,
    ) -> FairnessReport:
        """Predict `data` with a classifier and measure fairness across the groups of `sensitive`.

        `data` is a dataset (NAME[@V]), a warehouse table, a .parquet / .csv / .jsonl file or a
        DataFrame holding the model's inputs, `sensitive` and the true `label` (default: the
        target the model was trained on, when recorded). `positive` is the favourable class
        (default: a binary model's second class). `slices`: one or two groups for Vertex's slice
        comparison (default: the two largest). The report is stored unless `save` is False.
        """
        from pmle._util import utcnow

        mv = self._ws.models.get(model_ref)
        classes = mv.manifest.get("classes") or []
        if mv.task not in {"binary", "multiclass"} or len(classes) < 2:
            raise InvalidInput(
                f"{mv.ref} is a {mv.task or 'raw-output'} model: fairness metrics (selection "
                "rates, TPR, FPR) need a classifier's decisions",
                hint="evaluate a binary or multiclass model of the decision you care about",
            )
        model = self._ws.models.load(mv.ref)
        frame, source = self._read(data, model)
        columns = [str(c) for c in frame.columns]
        if sensitive not in frame.columns:
            raise InvalidInput(
                f"the data has no sensitive column {sensitive!r}",
                hint=f"columns: {', '.join(columns)}",
            )
        label = label or model.target
        if label is None:
            raise InvalidInput(
                f"{mv.ref} does not record its target column: say which column holds the labels",
                hint=f"pass label= (--label); columns: {', '.join(columns)}",
            )
        if label not in frame.columns:
            raise InvalidInput(
                f"the data has no label column {label!r}",
                hint="fairness needs the true labels beside the inputs; pass label= (--label) "
                f"if they are in another column: {', '.join(columns)}",
            )
        pos = _positive(mv.ref, classes, positive, mv.task)
        known = frame[label].notna()
        dropped = int((~known).sum())
        frame = frame[known]
        if frame.empty:
            raise InvalidInput(f"no rows with a label in {label!r} to evaluate on {source}")
        groups = _group_labels(frame[sensitive])
        distinct = len(set(groups))
        if distinct > MAX_GROUPS:
            raise InvalidInput(
                f"{sensitive!r} has {distinct:,} distinct values: fairness compares a few groups",
                hint="bin it into groups first (e.g. age bands with SQL CASE in `pmle data "
                "import-sql`), then evaluate on that dataset",
            )
        truth = _match_classes(frame[label], classes, label)
        predicted = model.predict(frame)
        metrics = compute(truth, predicted, groups, pos, slices=tuple(_text(s) for s in slices))
        notes = metrics.pop("notes")
        if dropped:
            notes.insert(0, f"{dropped:,} rows without a label in {label!r} were left out")
        report = FairnessReport(
            model=mv.ref,
            sensitive=sensitive,
            label=label,
            positive=_plain(pos),
            source=source,
            dropped_rows=dropped,
            notes=notes,
            created_at=utcnow(),
            **metrics,
        )
        return self._store(report, mv.name, mv.version) if save else report

    def list(self, model_ref: str) -> builtins.list[FairnessReport]:
        """The stored reports of one model version (NAME means its `default`), newest first."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        mv = self._ws.models.get(model_ref)
        f = t.model_fairness
        with self._ws.engine.connect() as conn:
            rows = conn.execute(
                sa.select(f)
                .where(f.c.model_name == mv.name, f.c.model_version == mv.version)
                .order_by(f.c.id.desc())
            ).all()
        return [FairnessReport.from_dict(r.report, id=r.id, created_at=r.created_at) for r in rows]

    def latest(self, model_ref: str, sensitive: str | None = None) -> FairnessReport:
        """The newest stored report of a model version (on `sensitive`, when given)."""
        for report in self.list(model_ref):
            if sensitive is None or report.sensitive == sensitive:
                return report
        on = f" on {sensitive!r}" if sensitive else ""
        raise NotFound(
            f"no fairness report{on} for {model_ref}",
            hint=f"run `pmle fairness {model_ref} --data DATASET --sensitive "
            f"{sensitive or 'COLUMN'}`",
        )

    def for_card(self, model_ref: str) -> builtins.list[FairnessReport]:
        """The newest report per (sensitive column, data source): what a model card shows."""
        seen: set[tuple[str, str]] = set()
        out = []
        for report in self.list(model_ref):
            key = (report.sensitive, report.source)
            if key not in seen:
                seen.add(key)
                out.append(report)
        return out

    def model_card(self, model_ref: str) -> str:
        """The model card of a version as Markdown: the one AutoML wrote (if any) with the
        fairness section of its newest reports; NotFound when it has neither."""
        from pmle.monitoring.fairness_metrics import card_section

        mv = self._ws.models.get(model_ref)
        path = self._ws.models.path(mv.ref) / "model_card.md"
        reports = self.for_card(mv.ref)
        if path.is_file():
            text = path.read_text(encoding="utf-8")
        elif reports:  # any model measured for fairness has at least that part of a card
            text = f"# Model card: {mv.ref}\n"
        else:
            raise NotFound(
                f"{model_ref} has no model card",
                hint="model cards come with AutoML models; `pmle fairness` adds a fairness section",
            )
        return text.rstrip("\n") + "\n\n" + card_section(reports)

    # -- internals ------------------------------------------------------------------------------

    def _store(self, report: FairnessReport, name: str, version: int) -> FairnessReport:
        from dataclasses import replace

        from pmle.storage import schema as t

        with self._ws.engine.begin() as conn:
            new_id = conn.execute(
                t.model_fairness.insert().values(
                    model_name=name,
                    model_version=version,
                    sensitive=report.sensitive,
                    source=report.source,
                    report=report.to_dict(),
                    created_at=report.created_at,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        return replace(report, id=int(new_id))

    def _read(self, data: Any, model: LoadedModel) -> tuple[pd.DataFrame, str]:
        """The rows to evaluate and the name of where they came from."""
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            return data, "DataFrame"
        if not isinstance(data, str | os.PathLike):
            raise InvalidInput(
                f"cannot read fairness data from a {type(data).__name__}",
                hint="give a dataset name, a warehouse table, a file path or a DataFrame",
            )
        from pmle.serving.batch_io import open_source, resolve_input

        try:
            source = resolve_input(self._ws, data)
        except NotFound:
            text = os.fspath(data)
            if text in self._ws.warehouse.tables():
                from pmle.storage.warehouse import quote_ident

                table = self._ws.warehouse.query_arrow(f"SELECT * FROM {quote_ident(text)}")
                return table.to_pandas(), f"table {text}"
            raise
        if source.dataset is not None:
            return self._ws.datasets.to_pandas(source.dataset), source.label
        import pyarrow as pa

        reader = open_source(source, model, chunk_rows=1 << 16)
        chunks = builtins.list(reader.chunks())
        table = pa.concat_tables(chunks) if chunks else reader.schema.empty_table()
        return table.to_pandas(), source.label


def _text(value: Any) -> str:
    """A value as text, with integral floats written as integers (a CSV's 1.0 is the class 1)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _plain(value: Any) -> Any:
    """A numpy scalar as a Python one (for JSON)."""
    return value.item() if hasattr(value, "item") else value


def _positive(ref: str, classes: builtins.list[Any], positive: Any, task: str | None) -> Any:
    """The favourable class, as the model spells it."""
    if positive is None:
        if task == "binary":
            return classes[1]
        raise InvalidInput(
            f"{ref} is a multiclass model: say which class is the favourable outcome",
            hint=f"pass positive= (--positive), one of: {', '.join(map(str, classes))}",
        )
    for c in classes:
        if c == positive and type(c) is type(positive):
            return c
    for c in classes:
        if _text(c) == _text(positive):
            return c
    raise InvalidInput(
        f"{positive!r} is not a class of {ref}",
        hint=f"classes: {', '.join(map(str, classes))}",
    )


def _group_labels(values: pd.Series) -> np.ndarray:
    """Group labels as strings; missing values make their own group."""
    import numpy as np
    import pandas as pd

    # pd.isna, not `v != v`: a nullable column's pd.NA has no truth value.
    return np.array(
        [MISSING if pd.isna(v) else _text(v) for v in values.astype(object)], dtype=object
    )


def _match_classes(values: pd.Series, classes: builtins.list[Any], label: str) -> np.ndarray:
    """True labels in the model's class values: a CSV may say "1" where the model says 1."""
    import numpy as np

    raw = values.to_numpy(dtype=object)
    present = {_plain(v) for v in set(raw.tolist())}
    if present & set(classes):
        return raw
    by_text = {_text(c): c for c in classes}
    mapped = np.array([by_text.get(_text(v), v) for v in raw], dtype=object)
    if {_plain(v) for v in set(mapped.tolist())} & set(classes):
        return mapped
    sample = ", ".join(map(str, sorted(present, key=str)[:5]))
    raise InvalidInput(
        f"the values of {label!r} ({sample}) are none of the model's classes "
        f"({', '.join(map(str, classes))})",
        hint="pass the column that holds the true labels with label= (--label)",
    )
