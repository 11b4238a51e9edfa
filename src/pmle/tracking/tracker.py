"""Experiments and runs of a workspace (`ws.tracking`): start runs, find them, compare them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pmle._util import check_name, utcnow
from pmle.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import pandas as pd

    from pmle.tracking.records import Experiment, MetricPoint, RunInfo
    from pmle.tracking.runs import Run
    from pmle.tracking.store import TrackingStore
    from pmle.workspace import Workspace

__all__ = ["DEFAULT_EXPERIMENT", "Tracking"]

DEFAULT_EXPERIMENT = "default"


def _run_name() -> str:
    return f"run-{utcnow():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class Tracking:
    """Experiment tracking over the workspace's metadata database."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    @cached_property
    def _store(self) -> TrackingStore:
        from pmle.tracking.store import TrackingStore

        return TrackingStore(self._ws.engine, self._ws.lineage)

    # -- experiments --------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        description: str = "",
        tags: Mapping[str, Any] | None = None,
        *,
        exist_ok: bool = False,
    ) -> Experiment:
        check_name(name, "experiment name")
        self._store.create_experiment(
            name, description, {k: str(v) for k, v in (tags or {}).items()}, exist_ok=exist_ok
        )
        return self.experiment(name)

    def experiment(self, name: str) -> Experiment:
        found = self._store.experiments(name)
        if not found:
            raise NotFound(f"no experiment named {name!r}", hint="pmle experiments list")
        return found[0]

    def experiments(self) -> list[Experiment]:
        return self._store.experiments()

    # -- runs ---------------------------------------------------------------------------------

    def start_run(
        self,
        experiment: str = DEFAULT_EXPERIMENT,
        name: str | None = None,
        *,
        parent: Run | int | str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        notes: str = "",
    ) -> Run:
        """A RUNNING run in `experiment` (created if new); use it with `with` to end it."""
        from pmle.tracking.records import RunInfo
        from pmle.tracking.runs import Run

        check_name(experiment, "experiment name")
        run_name = check_name(name, "run name") if name is not None else _run_name()
        parent_id = None
        if parent is not None:
            parent_id = parent.id if isinstance(parent, Run) else self._store.run_id(parent)
        run_id, execution_id = self._store.create_run(experiment, run_name, parent_id, notes)
        info = RunInfo(
            id=run_id,
            experiment=experiment,
            name=run_name,
            status="RUNNING",
            started_at=utcnow(),
            parent_id=parent_id,
        )
        run = Run(self, info, execution_id)
        try:
            if params:
                run.log_params(params)
            if tags:
                run.set_tags(tags)
        except Exception as exc:
            run.end("FAILED", str(exc))
            raise
        return run

    def attach(self, ref: int | str) -> Run:
        """A handle on a RUNNING run started elsewhere (a training job's run, by the process
        doing the work): it logs to the run, and leaves ending it to whoever started it."""
        from pmle.errors import Conflict
        from pmle.tracking.runs import Run

        info = self._store.load([self._store.run_id(ref)])[0]
        if info.status != "RUNNING":
            raise Conflict(f"run {info.ref} has ended ({info.status})")
        run = Run(self, info, self._store.execution_of(info.id))
        run._ends = False
        return run

    def log_model(self, ref: int | str | Run, model_ref: str) -> None:
        """Record that a run (running or ended) made a registered model version: a
        `pmle.model` tag and an output edge in the lineage graph."""
        from pmle.tracking.runs import Run

        run_id = ref.id if isinstance(ref, Run) else self._store.run_id(ref)
        version = self._ws.models.get(model_ref)
        self._store.set_tags(run_id, {"pmle.model": version.ref})
        execution_id = self._store.execution_of(run_id)
        if version.lineage_artifact_id is not None and execution_id is not None:
            self._store.link(execution_id, outputs=[version.lineage_artifact_id])

    def run(self, ref: int | str | Run) -> RunInfo:
        """One run with everything about it (params, metrics, tags, artifacts, lineage)."""
        from pmle.tracking.runs import Run

        if isinstance(ref, Run):
            run_id = ref.id
        elif isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            run_id = int(ref)  # loading it says whether it exists
        else:
            run_id = self._store.run_id(ref)
        found = self._store.load([run_id], details=True)
        if not found:
            raise NotFound(f"no run {ref!r}", hint="pmle experiments show EXPERIMENT")
        if found[0].status == "RUNNING" and self._store.recover([run_id]):
            found = self._store.load([run_id], details=True)  # its process had died
        return found[0]

    def runs(
        self,
        experiment: str | Sequence[str] | None = None,
        *,
        filter: str | None = None,
        order_by: str | Sequence[str] | None = None,
        max_results: int | None = 1000,
        parent: int | str | Run | None = None,
    ) -> list[RunInfo]:
        """Runs of one or more experiments (all when None) matching `filter` (see
        :mod:`pmle.tracking.search`), newest first unless `order_by` says otherwise."""
        if max_results is not None and max_results < 1:
            raise InvalidInput("max_results must be at least 1")
        return self._store.load(self._search(experiment, filter, order_by, max_results, parent))

    def runs_page(
        self,
        experiment: str | Sequence[str] | None = None,
        *,
        filter: str | None = None,
        order_by: str | Sequence[str] | None = None,
        offset: int = 0,
        limit: int = 50,
        parent: int | str | Run | None = None,
    ) -> tuple[int, list[RunInfo]]:
        """One page of :meth:`runs` — `limit` runs from `offset` on — and how many match in
        all. The matching ids come from one query; only the page's runs are loaded, in one
        batch."""
        if limit < 1 or offset < 0:
            raise InvalidInput("limit must be at least 1 and offset not negative")
        ids = self._search(experiment, filter, order_by, None, parent)
        return len(ids), self._store.load(ids[offset : offset + limit])

    def _search(
        self,
        experiment: str | Sequence[str] | None,
        filter: str | None,
        order_by: str | Sequence[str] | None,
        max_results: int | None,
        parent: int | str | Run | None,
    ) -> list[int]:
        from pmle.tracking.runs import Run

        names = [experiment] if isinstance(experiment, str) else experiment
        if names is not None:
            known = self._store.experiment_names(names)
            missing = [n for n in names if n not in known]
            if missing:
                raise NotFound(f"no experiment named {missing[0]!r}", hint="pmle experiments list")
        parent_id = None
        if parent is not None:
            parent_id = parent.id if isinstance(parent, Run) else self._store.run_id(parent)
        self._store.recover()
        return self._store.search(names, filter, order_by, max_results, parent_id)

    def runs_frame(
        self, experiment: str | Sequence[str] | None = None, **kwargs: Any
    ) -> pd.DataFrame:
        """`runs(...)` as a table: run, status, times, then `params.*` and `metrics.*`."""
        return frame_of(self.runs(experiment, **kwargs))

    def metric_history(self, ref: int | str | Run, key: str) -> list[MetricPoint]:
        """Every logged value of one metric of a run, by step."""
        from pmle.tracking.runs import Run

        if isinstance(ref, Run):
            return self._store.history(ref.id, key)
        if isinstance(ref, int):  # the run is looked up only when nothing comes back
            points = self._store.history(ref, key)
            if points:
                return points
        return self._store.history(self._store.run_id(ref), key)

    def compare(self, refs: Sequence[int | str | Run]) -> pd.DataFrame:
        """Runs side by side: one column per run, rows for status, duration, every parameter
        and every latest metric."""
        import pandas as pd

        from pmle.tracking.runs import Run

        if len(refs) < 1:
            raise InvalidInput("name at least one run to compare")
        infos = [self.run(r.id if isinstance(r, Run) else r) for r in refs]
        rows: dict[str, dict[str, Any]] = {}
        for info in infos:
            column = info.ref
            rows.setdefault("status", {})[column] = info.status
            rows.setdefault("duration_s", {})[column] = info.duration_s
            for key, value in info.params.items():
                rows.setdefault(f"params.{key}", {})[column] = value
            for key, number in info.metrics.items():
                rows.setdefault(f"metrics.{key}", {})[column] = number
        frame = pd.DataFrame.from_dict(rows, orient="index")
        return frame.reindex(columns=[i.ref for i in infos])

    def curves(
        self, refs: Sequence[int | str | Run], keys: Sequence[str] | None = None
    ) -> dict[str, dict[str, list[MetricPoint]]]:
        """{metric: {run ref: points}} for `keys` (default: every metric the runs logged more
        than once)."""
        from pmle.tracking.runs import Run

        infos = [self.run(r.id if isinstance(r, Run) else r) for r in refs]
        curves = self._store.histories([info.id for info in infos])
        out: dict[str, dict[str, list[MetricPoint]]] = {}
        for info in infos:
            for key in keys if keys is not None else sorted(info.metrics):
                points = curves.get((info.id, key), [])
                if keys is None and len(points) < 2:
                    continue
                out.setdefault(key, {})[info.ref] = points
        return out

    def keys(self, experiment: str) -> tuple[list[str], list[str]]:
        """(parameter names, metric names) that any run of `experiment` logged, sorted."""
        self.experiment(experiment)  # NotFound for an unknown one
        return self._store.keys(experiment)

    def histories(self, refs: Sequence[int | str | Run]) -> dict[str, dict[str, list[MetricPoint]]]:
        """{run ref: {metric: points by step}} for every metric of the runs (one query)."""
        from pmle.tracking.runs import Run

        infos = [self.run(r.id if isinstance(r, Run) else r) for r in refs]
        curves = self._store.histories([info.id for info in infos])
        return {
            info.ref: {key: curves.get((info.id, key), []) for key in sorted(info.metrics)}
            for info in infos
        }


def frame_of(runs: Sequence[RunInfo]) -> pd.DataFrame:
    """Runs as a table: id, experiment, run, status, started, duration, params.*, metrics.*."""
    import pandas as pd

    params = sorted({k for r in runs for k in r.params})
    metrics = sorted({k for r in runs for k in r.metrics})
    records = []
    for r in runs:
        record: dict[str, Any] = {
            "run_id": r.id,
            "experiment": r.experiment,
            "run": r.name,
            "status": r.status,
            "started_at": r.started_at,
            "duration_s": r.duration_s,
        }
        record.update({f"params.{k}": r.params.get(k) for k in params})
        record.update({f"metrics.{k}": r.metrics.get(k) for k in metrics})
        records.append(record)
    columns = ["run_id", "experiment", "run", "status", "started_at", "duration_s"]
    return pd.DataFrame.from_records(
        records,
        columns=columns + [f"params.{k}" for k in params] + [f"metrics.{k}" for k in metrics],
    )
