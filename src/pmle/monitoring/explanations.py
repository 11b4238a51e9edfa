"""Explanations of registered models (`ws.explanations`): per-instance feature attributions,
the attribution baseline stored with each model version, and global feature importance.

A model version's baseline is computed once per method, from its training dataset (found in
its lineage) or from rows given explicitly, and stored in `model_explanations`:

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
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput, NotFound
from pmle.monitoring.attributions import (
    DEFAULT_PATH_COUNT,
    Attributions,
    Explanation,
    baseline_instance,
    check_path_count,
    linear_term_means,
    needs_linear_means,
    resolve_method,
    sampled_shapley,
    tree_shap,
)

if TYPE_CHECKING:
    import pandas as pd

    from pmle.models.format import LoadedModel
    from pmle.models.registry import ModelVersion
    from pmle.models.signature import Signature
    from pmle.workspace import Workspace

#: Training rows the global importance is measured on.
GLOBAL_ROWS = 1000
#: Model evaluations a global sampled Shapley importance may take (fewer rows for wide tables).
_GLOBAL_EVALUATIONS = 1_000_000
#: Training rows the means of a linear member's terms are taken over.
_MEAN_ROWS = 100_000
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
        compare."""
        from pmle.models.signature import as_frame

        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise InvalidInput(f"max_rows must be a positive integer, got {max_rows!r}")
        rows = as_frame(frame)
        if rows.empty:
            raise InvalidInput("no rows to attribute")
        if len(rows) > max_rows:
            rows = rows.sample(n=max_rows, random_state=seed)
        return self.attribute(model_ref, rows, method=method, seed=seed).mean_abs()

    # -- baselines and global importance ----------------------------------------------------

    def baseline(self, model_ref: str, *, method: str = "auto", data: Any = None) -> Baseline:
        """The model version's stored baseline for `method`, computed and stored on first use
        from its training dataset. With `data` (a DataFrame or a dataset reference), it is
        computed from those rows instead and replaces the stored one."""
        mv = self._ws.models.get(model_ref)
        model = self._load(mv)
        chosen = resolve_method(model, method)
        if data is None:
            return self._baseline(mv, model, chosen)
        frame, source = self._given_data(data)
        return self._store(mv, self._compute(mv, model, chosen, frame, source), replace=True)

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

    def _baseline(self, mv: ModelVersion, model: LoadedModel, method: str) -> Baseline:
        found = self._stored(mv, method)
        if found is not None:
            return found
        frame, source = self._training_data(mv)
        return self._store(mv, self._compute(mv, model, method, frame, source), replace=False)

    def _compute(
        self, mv: ModelVersion, model: LoadedModel, method: str, frame: pd.DataFrame, source: str
    ) -> Baseline:
        from pmle._util import utcnow

        if frame.empty:
            raise InvalidInput(f"no rows to compute the baseline of {mv.ref} from ({source})")
        instance = baseline_instance(model.signature, frame)
        d = len(model.signature.inputs)
        rows = GLOBAL_ROWS
        if method == "sampled_shapley":
            rows = max(50, min(rows, _GLOBAL_EVALUATIONS // (DEFAULT_PATH_COUNT * max(d - 1, 1))))
        sample = frame.sample(n=rows, random_state=0) if len(frame) > rows else frame
        expected: dict[str, Any] = {}
        if method == "tree_shap":
            means = linear_term_means(
                model,
                frame.sample(n=_MEAN_ROWS, random_state=0) if len(frame) > _MEAN_ROWS else frame,
            )
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
            source=f"{source}: {len(sample):,} of {len(frame):,} rows",
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
            # SQLite hands back naive datetimes; they were written in UTC.
            created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
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

    def _training_data(self, mv: ModelVersion) -> tuple[pd.DataFrame, str]:
        """The first dataset the model version was trained on, from its lineage."""
        name = self._training_dataset(mv)
        if name is None:
            raise InvalidInput(
                f"{mv.ref} has no training dataset in its lineage to take a baseline from",
                hint="give the training rows: ws.explanations.baseline(model, data=frame), or "
                "`pmle explain MODEL --global --data DATASET_OR_FILE`",
            )
        try:
            dv = self._ws.datasets.get(name)
        except NotFound:
            raise InvalidInput(
                f"{mv.ref} was trained on dataset {name}, which is no longer in this workspace",
                hint="give the training rows with data=",
            )
        return self._ws.datasets.to_pandas(dv), f"dataset {dv.ref}"

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

    def _given_data(self, data: Any) -> tuple[pd.DataFrame, str]:
        import pandas as pd

        if isinstance(data, str):
            dv = self._ws.datasets.get(data)
            return self._ws.datasets.to_pandas(dv), f"dataset {dv.ref}"
        if isinstance(data, pd.DataFrame):
            return data, "rows given"
        raise InvalidInput(
            f"data must be a DataFrame or a dataset reference, got {type(data).__name__}"
        )


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


__all__ = ["GLOBAL_ROWS", "Baseline", "Explanations", "instances_frame"]
