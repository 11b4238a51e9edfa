"""Explanations of registered models (`ws.explanations`): per-instance feature attributions,
the attribution baseline stored with each model version, and global feature importance.

A model version's baseline is computed once per method, from its training dataset (found in
its lineage) or from rows given explicitly, and stored in `model_explanations`. Only the model's
input columns are read, a seeded sample of at most 100,000 rows; rows given explicitly replace
the baseline of every method that applies to the model. Per process, one thread computes a
model version's first baseline of a method while the others wait for it:

- the baseline instance — the median of each numeric column and the most frequent value of the
  others, Vertex AI's default for tabular models (what sampled Shapley measures against);
- the expected output (per class for classifiers) and, for ensembles with a linear member, the
  training means of its terms (what exact attributions of that member measure against);
- global importance — the mean |attribution| of each input column over up to 1,000 training
  rows, for the predicted class.

The math lives in :mod:`pmle.monitoring.attributions`; this module finds models and data and
keeps the baselines.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pmle._util import as_utc
from pmle.errors import InvalidInput, NotFound
from pmle.monitoring.attributions import (
    DEFAULT_PATH_COUNT,
    METHODS,
    Attributions,
    Explanation,
    baseline_instance,
    check_cost,
    check_path_count,
    exact_available,
    linear_term_means,
    needs_linear_means,
    resolve_method,
    sampled_shapley,
    shapley_rows,
    tree_shap,
)

if TYPE_CHECKING:
    import pandas as pd

    from pmle.data.datasets import DatasetVersion
    from pmle.models.format import LoadedModel
    from pmle.models.registry import ModelVersion
    from pmle.models.signature import Signature
    from pmle.workspace import Workspace

#: Training rows the global importance is measured on.
GLOBAL_ROWS = 1000
#: Model evaluations a global sampled Shapley importance may take (fewer rows for wide tables).
_GLOBAL_EVALUATIONS = 1_000_000
#: Training rows a baseline is computed from (medians, modes, a linear member's term means):
#: a seeded sample of the training data.
BASELINE_ROWS = 100_000
#: Loaded models kept per process (a server explains the same few models again and again).
_CACHED_MODELS = 8


@dataclass(frozen=True)
class Baseline:
    """What a model version's attributions are measured against, and its global importance."""

    model: str  # NAME@VERSION
    method: str
    instance: dict[str, Any]
    expected_value: dict[str, Any]  # values (per output), outputs, output_name[, linear terms]
    global_importance: dict[str, float]  # feature → mean |attribution|, largest first
    source: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {**self.__dict__, "created_at": self.created_at.isoformat()}


class Explanations:
    """Feature attributions of registered models (`ws.explanations`)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        # One lock per (model, version, method): the first baseline is computed once.
        self._computing: dict[tuple[str, int, str], threading.Lock] = {}

    # -- per-instance attributions ----------------------------------------------------------

    def attribute(
        self,
        model_ref: str,
        instances: Any,
        *,
        method: str = "auto",
        path_count: int = DEFAULT_PATH_COUNT,
        seed: int = 0,
    ) -> Attributions:
        """Attributions of every instance for every output of the model, as arrays.

        `instances`: a DataFrame, a list of row objects, or a list of value lists in signature
        order (as in prediction requests). `method`: `auto` (exact TreeSHAP where the model
        allows it, else sampled Shapley), `tree_shap` or `sampled_shapley`."""
        check_path_count(path_count)
        mv = self._ws.models.get(model_ref)
        model = self._load(mv)
        chosen = resolve_method(model, method)
        frame = instances_frame(instances, model.signature)
        if chosen == "tree_shap":
            means = None
            if needs_linear_means(model):
                means = self._baseline(mv, model, chosen).expected_value["linear_term_means"]
            return tree_shap(model, frame, linear_means=means)
        check_cost(len(frame), len(model.signature.inputs), path_count)  # before the baseline
        base = self._baseline(mv, model, chosen)
        return sampled_shapley(model, frame, base.instance, path_count=path_count, seed=seed)

    def explain(
        self,
        model_ref: str,
        instances: Any,
        *,
        method: str = "auto",
        path_count: int = DEFAULT_PATH_COUNT,
        seed: int = 0,
        output_index: int | None = None,
    ) -> list[Explanation]:
        """One explanation per instance, for `output_index` (a class index) or, by default, the
        predicted class, as Vertex AI explains."""
        found = self.attribute(
            model_ref, instances, method=method, path_count=path_count, seed=seed
        )
        return found.explanations(output_index)

    def mean_abs_attributions(
        self,
        model_ref: str,
        frame: Any,
        *,
        method: str = "auto",
        max_rows: int = GLOBAL_ROWS,
        seed: int = 0,
    ) -> dict[str, float]:
        """Mean |attribution| per input column over (a seeded sample of up to `max_rows` of) the
        rows of `frame`, for each row's predicted class — what attribution skew and drift
        compare. Sampled Shapley takes fewer rows where `max_rows` would cost more than its
        limit of model evaluations."""
        from pmle.models.signature import as_frame

        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise InvalidInput(f"max_rows must be a positive integer, got {max_rows!r}")
        mv = self._ws.models.get(model_ref)
        model = self._load(mv)
        if resolve_method(model, method) == "sampled_shapley":
            d = len(model.signature.inputs)
            max_rows = max(1, min(max_rows, shapley_rows(d, DEFAULT_PATH_COUNT)))
        rows = as_frame(frame)
        if rows.empty:
            raise InvalidInput("no rows to attribute")
        if len(rows) > max_rows:
            rows = rows.sample(n=max_rows, random_state=seed)
        return self.attribute(mv.ref, rows, method=method, seed=seed).mean_abs()

    # -- baselines and global importance ----------------------------------------------------

    def baseline(
        self, model_ref: str, *, method: str = "auto", data: Any = None, source: str | None = None
    ) -> Baseline:
        """The model version's stored baseline for `method`, computed and stored on first use
        from its training dataset. With `data` (a DataFrame or a dataset reference), the
        baselines of every method that applies to the model are computed from those rows
        instead and replace the stored ones; `source` names the rows in them (default: the
        dataset, or "rows given")."""
        mv = self._ws.models.get(model_ref)
        model = self._load(mv)
        chosen = resolve_method(model, method)
        if data is None:
            return self._baseline(mv, model, chosen)
        frame, label, total = self._given_data(data, model.signature)
        label = source or label
        stored: dict[str, Baseline] = {}
        for m in [chosen, *(m for m in METHODS if m != chosen)]:
            if m == "tree_shap" and not exact_available(model):
                continue
            with self._computing_lock(mv, m):
                found = self._compute(mv, model, m, frame, label, total)
                stored[m] = self._store(mv, found, replace=True)
        return stored[chosen]

    def global_importance(self, model_ref: str, *, method: str = "auto") -> dict[str, float]:
        """Mean |attribution| per input column over the training rows, largest first."""
        return self.baseline(model_ref, method=method).global_importance

    # -- internals --------------------------------------------------------------------------

    def _load(self, mv: ModelVersion) -> LoadedModel:
        with self._lock:
            model = self._models.get(mv.tree_key)
            if model is not None:
                self._models.move_to_end(mv.tree_key)
                return model
        from pmle.models.format import load_model

        model = load_model(self._ws.artifacts.materialize_tree(mv.tree_key))
        with self._lock:
            self._models[mv.tree_key] = model
            while len(self._models) > _CACHED_MODELS:
                self._models.popitem(last=False)
        return model

    def _computing_lock(self, mv: ModelVersion, method: str) -> threading.Lock:
        with self._lock:
            return self._computing.setdefault((mv.name, mv.version, method), threading.Lock())

    def _baseline(self, mv: ModelVersion, model: LoadedModel, method: str) -> Baseline:
        found = self._stored(mv, method)
        if found is not None:
            return found
        with self._computing_lock(mv, method):
            found = self._stored(mv, method)  # computed while this thread waited
            if found is not None:
                return found
            frame, source, total = self._training_data(mv, model.signature, method)
            base = self._compute(mv, model, method, frame, source, total)
            return self._store(mv, base, replace=False)

    def _compute(
        self,
        mv: ModelVersion,
        model: LoadedModel,
        method: str,
        frame: pd.DataFrame,
        source: str,
        total: int,
    ) -> Baseline:
        """The baseline of `frame` (a sample of `total` rows, at most BASELINE_ROWS)."""
        from pmle._util import utcnow

        instance = baseline_instance(model.signature, frame)  # first: it names missing columns
        if frame.empty:
            raise InvalidInput(f"no rows to compute the baseline of {mv.ref} from ({source})")
        d = len(model.signature.inputs)
        rows = GLOBAL_ROWS
        if method == "sampled_shapley":
            rows = max(50, min(rows, _GLOBAL_EVALUATIONS // (DEFAULT_PATH_COUNT * max(d - 1, 1))))
            rows = max(1, min(rows, shapley_rows(d, DEFAULT_PATH_COUNT)))
        sample = frame.sample(n=rows, random_state=0) if len(frame) > rows else frame
        expected: dict[str, Any] = {}
        if method == "tree_shap":
            means = linear_term_means(model, frame)
            found = tree_shap(model, sample, linear_means=means)
            if means:
                expected["linear_term_means"] = means
        else:
            found = sampled_shapley(model, sample, instance, seed=0)
        importance = found.mean_abs()
        return Baseline(
            model=mv.ref,
            method=method,
            instance=instance,
            expected_value={
                "values": [float(v) for v in found.baseline_output[0]],
                "outputs": found.labels,
                "output_name": found.output_name,
                **expected,
            },
            global_importance=dict(sorted(importance.items(), key=lambda kv: -kv[1])),
            source=f"{source}: {len(sample):,} of {total:,} rows",
            created_at=utcnow(),
        )

    def _stored(self, mv: ModelVersion, method: str) -> Baseline | None:
        import sqlalchemy as sa

        from pmle.storage import schema as t

        table = t.model_explanations
        with self._ws.engine.connect() as conn:
            row = conn.execute(
                sa.select(table).where(
                    table.c.model_name == mv.name,
                    table.c.model_version == mv.version,
                    table.c.method == method,
                )
            ).first()
        if row is None:
            return None
        created = row.created_at
        return Baseline(
            model=mv.ref,
            method=method,
            instance=dict(row.baseline),
            expected_value=dict(row.expected_value),
            global_importance=dict(row.global_importance),
            source=row.source,
            created_at=as_utc(created),
        )

    def _store(self, mv: ModelVersion, base: Baseline, *, replace: bool) -> Baseline:
        """Insert (or replace) the row; a baseline stored meanwhile by another process wins."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        table = t.model_explanations
        key = (
            table.c.model_name == mv.name,
            table.c.model_version == mv.version,
            table.c.method == base.method,
        )
        values = {
            "model_name": mv.name,
            "model_version": mv.version,
            "method": base.method,
            "baseline": _json_safe(base.instance),
            "expected_value": _json_safe(base.expected_value),
            "global_importance": base.global_importance,
            "source": base.source,
            "created_at": base.created_at,
        }
        try:
            with self._ws.engine.begin() as conn:
                if replace:
                    conn.execute(table.delete().where(*key))
                conn.execute(table.insert().values(**values))
        except sa.exc.IntegrityError:
            stored = self._stored(mv, base.method)
            if stored is not None:
                return stored
            raise
        return base

    def _training_data(
        self, mv: ModelVersion, signature: Signature, method: str
    ) -> tuple[pd.DataFrame, str, int]:
        """A sample of the first dataset the model version was trained on (from its lineage),
        its name and its row count."""
        name = self._training_dataset(mv)
        how = (
            f"ws.explanations.baseline({mv.ref!r}, data=frame), or `pmle explain {mv.ref} "
            f"--global --method {method} --data DATASET_OR_FILE` (which stores the baseline of "
            "every method)"
        )
        if name is None:
            raise InvalidInput(
                f"{mv.ref} has no training dataset in its lineage to take a baseline from",
                hint=f"give the training rows: {how}",
            )
        try:
            dv = self._ws.datasets.get(name)
        except NotFound:
            raise InvalidInput(
                f"{mv.ref} was trained on dataset {name}, which is no longer in this workspace",
                hint=f"give the training rows: {how}",
            )
        frame, total = self._dataset_sample(dv, signature)
        return frame, f"dataset {dv.ref}", total

    def _training_dataset(self, mv: ModelVersion) -> str | None:
        from pmle.data.datasets import ARTIFACT_TYPE

        for node in (mv.manifest.get("lineage") or {}).get("inputs") or []:
            if isinstance(node, dict) and node.get("type") == ARTIFACT_TYPE and node.get("name"):
                return str(node["name"])
        if mv.lineage_artifact_id is None:
            return None
        graph = self._ws.lineage.upstream(mv.lineage_artifact_id, max_depth=1)
        for execution in graph.producers_of(mv.lineage_artifact_id):
            for artifact in graph.inputs_of(execution.id):
                if artifact.type == ARTIFACT_TYPE and artifact.name:
                    return artifact.name
        return None

    def _given_data(self, data: Any, signature: Signature) -> tuple[pd.DataFrame, str, int]:
        import pandas as pd

        if isinstance(data, str):
            dv = self._ws.datasets.get(data)
            frame, total = self._dataset_sample(dv, signature)
            return frame, f"dataset {dv.ref}", total
        if isinstance(data, pd.DataFrame):
            frame = data[[c for c in signature.input_names if c in data.columns]]
            if len(frame) > BASELINE_ROWS:
                frame = frame.sample(n=BASELINE_ROWS, random_state=0)
            return frame, "rows given", len(data)
        raise InvalidInput(
            f"data must be a DataFrame or a dataset reference, got {type(data).__name__}"
        )

    def _dataset_sample(self, dv: DatasetVersion, signature: Signature) -> tuple[pd.DataFrame, int]:
        """The model's input columns of a dataset version, a seeded sample of at most
        BASELINE_ROWS rows read one row group at a time, and the version's row count."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(self._ws.datasets.path(dv))
        present = set(pf.schema_arrow.names)
        columns = [c for c in signature.input_names if c in present]
        total = pf.metadata.num_rows
        if total <= BASELINE_ROWS:
            return pf.read(columns=columns).to_pandas(), total
        chosen = np.sort(np.random.default_rng(0).choice(total, BASELINE_ROWS, replace=False))
        parts, offset = [], 0
        for i in range(pf.num_row_groups):
            size = pf.metadata.row_group(i).num_rows
            lo, hi = np.searchsorted(chosen, [offset, offset + size])
            if hi > lo:
                group = pf.read_row_group(i, columns=columns)
                parts.append(group.take(pa.array(chosen[lo:hi] - offset)))
            offset += size
        return pa.concat_tables(parts).to_pandas(), total


def instances_frame(instances: Any, signature: Signature) -> pd.DataFrame:
    """Instances as a DataFrame: a DataFrame, a mapping of columns, a list of row objects, or a
    list of value lists in signature order (Vertex AI's two instance shapes)."""
    import pandas as pd

    from pmle.models.signature import as_frame

    if isinstance(instances, list):
        if not instances:
            raise InvalidInput("no instances to explain", hint="give at least one instance")
        if all(isinstance(r, list) for r in instances):
            names = signature.input_names
            for i, r in enumerate(instances):
                if len(r) != len(names):
                    raise InvalidInput(
                        f"instance {i} must be a list of {len(names)} values",
                        hint=f"in this order: {', '.join(names)}",
                    )
            return pd.DataFrame(instances, columns=names)
        if not all(isinstance(r, dict) for r in instances):
            raise InvalidInput(
                "each instance must be an object keyed by column name or a list of values",
                hint=f"the model takes {', '.join(signature.input_names)}",
            )
    frame = as_frame(instances)
    if frame.empty:
        raise InvalidInput("no instances to explain", hint="give at least one instance")
    return frame


def _json_safe(value: Any) -> Any:
    import orjson

    return orjson.loads(
        orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    )


__all__ = ["BASELINE_ROWS", "GLOBAL_ROWS", "Baseline", "Explanations", "instances_frame"]
