"""Pipeline runs of a workspace: `ws.pipelines` (:class:`Pipelines`).

A run loads the pipeline (:func:`~pmle.pipelines.compile.load_any`), types the arguments by
the pipeline's root inputs (strings, as the CLI passes them, are read per type), records a
`pipeline_runs` row, runs it with a fresh :class:`~pmle.pipelines.workers.WorkerPool` (closed
after) and the workspace's task cache (:class:`~pmle.pipelines.cache.PipelineCache`, off with
`no_cache`), and stores how it ended with a summary of every task. Task outputs go under
`<state_dir>/pipelines/runs/<run id>/`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle._util import as_utc, utcnow
from pmle.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from pmle.pipelines.cache import PipelineCache
    from pmle.pipelines.ir import PipelineSpec
    from pmle.pipelines.scheduler import TaskRecord
    from pmle.workspace import Workspace

__all__ = ["PipelineRun", "Pipelines", "parse_params", "task_summary"]

TaskHook = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class PipelineRun:
    """One run of a pipeline as stored."""

    id: int
    name: str  # the pipeline's name
    run_name: str
    state: str  # RUNNING | SUCCEEDED | FAILED
    source: str
    params: dict[str, Any] = field(hash=False)
    result: dict[str, Any] = field(hash=False, repr=False)
    root_dir: str
    error: str | None
    started_at: datetime
    ended_at: datetime | None

    @property
    def tasks(self) -> list[dict[str, Any]]:
        """The task summaries (see :func:`task_summary`), in start order."""
        return list(self.result.get("tasks") or [])

    @property
    def succeeded(self) -> bool:
        """Whether the run succeeded."""
        return self.state == "SUCCEEDED"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "pipeline": self.name,
            "runName": self.run_name,
            "state": self.state,
            "source": self.source,
            "params": self.params,
            "outputs": self.result.get("outputs") or {},
            "tasks": self.tasks,
            "rootDir": self.root_dir,
            "error": self.error,
            "startTime": self.started_at.isoformat(),
            "endTime": self.ended_at.isoformat() if self.ended_at else None,
        }


def parse_params(spec: PipelineSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` with string values read by the type of the pipeline input they name
    (NUMBER_INTEGER / NUMBER_DOUBLE numbers, BOOLEAN true / false, LIST / STRUCT JSON, STRING
    as is). Other values, and names the pipeline lacks, are passed on as given."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        pspec = spec.inputs.parameters.get(name)
        if pspec is None or not isinstance(value, str) or pspec.type == "STRING":
            out[name] = value
            continue
        out[name] = _read(pspec.type, value, name)
    return out


def _read(kind: str, text: str, name: str) -> Any:
    try:
        if kind == "NUMBER_INTEGER":
            return int(text)
        if kind == "NUMBER_DOUBLE":
            return float(text)
        if kind == "BOOLEAN":
            low = text.strip().lower()
            if low not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(text)
            return low in {"true", "1", "yes"}
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(
            f"cannot read pipeline input {name!r} ({kind}) from {text!r}",
            hint="LIST and STRUCT inputs take JSON" if kind in {"LIST", "STRUCT"} else None,
        ) from exc


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _refs(artifacts: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [
            {"uri": r.uri, "type": r.schema_title, "metadata": _jsonable(r.metadata)} for r in refs
        ]
        for name, refs in artifacts.items()
    }


def task_summary(record: TaskRecord, cache: PipelineCache | None) -> dict[str, Any]:
    """A task record as stored: key, name, state, attempts, cacheHit, times, log (None for a
    cache hit: the task did not run), error, output parameters and artifact refs."""
    hit = (
        cache is not None
        and record.log_path is not None
        and cache.is_hit(str(record.log_path.parent))
    )
    duration = (
        record.end - record.start if record.start is not None and record.end is not None else None
    )
    return {
        "key": record.key,
        "name": record.name,
        "state": record.state,
        "attempts": record.attempts,
        "cacheHit": bool(hit),
        "isGroup": record.is_group,
        "start": record.start,
        "end": record.end,
        "durationS": round(duration, 3) if duration is not None else None,
        "logPath": str(record.log_path) if record.log_path is not None and not hit else None,
        "error": record.error,
        "parameters": _jsonable(record.parameters),
        "artifacts": _refs(record.artifacts),
    }


class Pipelines:
    """Run KFP v2 pipelines locally and keep their records."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    @property
    def runs_dir(self) -> Path:
        """Where run outputs go: `<state_dir>/pipelines/runs`."""
        return self._ws.state_dir / "pipelines" / "runs"

    def run(
        self,
        path_spec: str | Path,
        params: Mapping[str, Any] | None = None,
        *,
        no_cache: bool = False,
        max_parallel: int | None = None,
        on_task: TaskHook | None = None,
    ) -> PipelineRun:
        """Run the pipeline at `path_spec` (`FILE.yaml|.json` or `FILE.py[:FUNC]`) with
        `params`; `on_task(summary)` is called as each task finishes. Bad params or an
        unsupported pipeline are InvalidInput before any record is made; a run that fails is
        returned with state FAILED."""
        from sqlalchemy import insert, update

        from pmle.pipelines.bindings import parse_arguments
        from pmle.pipelines.cache import PipelineCache
        from pmle.pipelines.compile import load_any
        from pmle.pipelines.scheduler import run_pipeline
        from pmle.pipelines.support import check_supported
        from pmle.pipelines.workers import WorkerPool
        from pmle.storage.schema import pipeline_runs as t

        if max_parallel is not None and max_parallel < 1:
            raise InvalidInput(f"max_parallel must be at least 1, got {max_parallel}")
        spec = load_any(path_spec)
        arguments = parse_params(spec, params or {})
        check_supported(spec)
        parse_arguments(spec, arguments)  # refuse bad arguments before recording a run
        started = utcnow()
        with self._ws.engine.begin() as conn:
            inserted = conn.execute(
                insert(t).values(
                    name=spec.name,
                    run_name="",
                    state="RUNNING",
                    source=str(path_spec),
                    params=_jsonable(arguments),
                    result={},
                    root_dir="",
                    started_at=started,
                )
            )
            key = inserted.inserted_primary_key
            assert key is not None
            run_id = int(key[0])
        root = self.runs_dir / str(run_id)
        run_name = f"{spec.name}-{run_id}"
        with self._ws.engine.begin() as conn:
            conn.execute(
                update(t).where(t.c.id == run_id).values(run_name=run_name, root_dir=str(root))
            )
        cache = None if no_cache else PipelineCache(self._ws.engine, spec, run_id=run_id)

        def on_event(kind: str, record: TaskRecord) -> None:
            if kind == "task_finished" and on_task is not None:
                on_task(task_summary(record, cache))

        state, error, result = "FAILED", None, {}
        pool = WorkerPool(max_parallel)
        try:
            outcome = run_pipeline(
                spec,
                arguments,
                root_dir=root,
                pool=pool,
                max_parallel=max_parallel,
                on_event=on_event,
                cache=cache,
                run_name=run_name,
            )
            records = sorted(outcome.tasks.values(), key=lambda r: (r.start or 0.0, r.key))
            tasks = [task_summary(r, cache) for r in records]
            state = outcome.state
            failed = [s["key"] for s in tasks if s["state"] == "FAILED" and not s["isGroup"]]
            error = f"tasks failed: {', '.join(failed)}" if failed else None
            result = {
                "outputs": {
                    "parameters": _jsonable(outcome.parameters),
                    "artifacts": _refs(outcome.artifacts),
                },
                "tasks": tasks,
            }
        except Exception as exc:
            error = str(exc)
            raise
        finally:
            pool.close()
            with self._ws.engine.begin() as conn:
                conn.execute(
                    update(t)
                    .where(t.c.id == run_id)
                    .values(state=state, error=error, result=result, ended_at=utcnow())
                )
        return self.get(run_id)

    def list(self, pipeline: str | None = None) -> list[PipelineRun]:
        """Runs, newest first (of one pipeline with `pipeline`)."""
        from sqlalchemy import select

        from pmle.storage.schema import pipeline_runs as t

        query = select(t).order_by(t.c.id.desc())
        if pipeline is not None:
            query = query.where(t.c.name == pipeline)
        with self._ws.engine.connect() as conn:
            return [_run_of(row) for row in conn.execute(query)]

    def get(self, run_id: int | str) -> PipelineRun:
        """One run by id."""
        from sqlalchemy import select

        from pmle.storage.schema import pipeline_runs as t

        try:
            key = int(run_id)
        except ValueError:
            raise NotFound(f"no pipeline run {run_id!r}", hint="see pmle pipelines list") from None
        with self._ws.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == key)).first()
        if row is None:
            raise NotFound(f"no pipeline run {run_id!r}", hint="see pmle pipelines list")
        return _run_of(row)


def _run_of(row: Any) -> PipelineRun:
    started = as_utc(row.started_at)
    assert started is not None
    return PipelineRun(
        id=row.id,
        name=row.name,
        run_name=row.run_name,
        state=row.state,
        source=row.source,
        params=dict(row.params or {}),
        result=dict(row.result or {}),
        root_dir=row.root_dir,
        error=row.error,
        started_at=started,
        ended_at=as_utc(row.ended_at),
    )
