"""Pipeline runs of a workspace: `ws.pipelines` (:class:`Pipelines`).

A run loads the pipeline (:func:`~pmle.pipelines.compile.load_any`), types the arguments by
the pipeline's root inputs (strings, as the CLI passes them, are read per type), records a
`pipeline_runs` row, runs it with a fresh :class:`~pmle.pipelines.workers.WorkerPool` (closed
after) and the workspace's task cache (:class:`~pmle.pipelines.cache.PipelineCache`, off with
`no_cache`), and stores how it ended with a summary of every task. Task outputs go under
`<state_dir>/pipelines/runs/<run id>/`.
"""

from __future__ import annotations

import builtins
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle._util import owner_alive, this_host, utcnow
from pmle.errors import Conflict, InvalidInput, NotFound
from pmle.pipelines.run_records import (
    CANCEL_FILE,
    JOURNAL,
    SPEC_FILE,
    PipelineRun,
    append_journal,
    jsonable,
    merge_tasks,
    read_journal,
    refs_of,
    run_of,
    task_summary,
)

if TYPE_CHECKING:
    from pmle.pipelines.ir import PipelineSpec
    from pmle.pipelines.limits import ResourceLimiter
    from pmle.pipelines.scheduler import TaskRecord
    from pmle.pipelines.tasks import TaskPool
    from pmle.workspace import Workspace

__all__ = ["PipelineRun", "Pipelines", "parse_params"]

TaskHook = Callable[[dict[str, Any]], None]

# Runs executing in this process: (metadata database, run id) → the event that cancels it.
_ACTIVE: dict[tuple[str, int], threading.Event] = {}
_CANCEL_POLL_S = 0.1


def _has_containers(spec: PipelineSpec) -> bool:
    """Whether any task runs a container command (not a Python component or an importer):
    only then is a container engine looked for."""
    from pmle.pipelines.lightweight import lightweight_function

    return any(
        e.container is not None and lightweight_function(e) is None for e in spec.executors.values()
    )


def _check_parallel(max_parallel: int | None) -> None:
    if max_parallel is not None and max_parallel < 1:
        raise InvalidInput(f"max_parallel must be at least 1, got {max_parallel}")


def _watch_cancel(
    root: Path, cancel: threading.Event, finished: threading.Event, pool: TaskPool
) -> None:
    """Until the run has `finished`, wait for a cancel request (`cancel` set in this process,
    or a cancel file from another); on one, cancel the run and stop its running tasks."""
    while not finished.wait(_CANCEL_POLL_S):
        if cancel.is_set() or (root / CANCEL_FILE).exists():
            cancel.set()
            pool.close()
            return


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


class Pipelines:
    """Run KFP v2 pipelines locally and keep their records."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    @property
    def runs_dir(self) -> Path:
        """Where run outputs go: `<state_dir>/pipelines/runs`."""
        return self._ws.state_dir / "pipelines" / "runs"

    @property
    def compiled_dir(self) -> Path:
        """Where compiled `.py` pipelines are kept: `<state_dir>/pipelines/compiled`."""
        return self._ws.state_dir / "pipelines" / "compiled"

    def run(
        self,
        path_spec: str | Path,
        params: Mapping[str, Any] | None = None,
        *,
        no_cache: bool = False,
        max_parallel: int | None = None,
        on_task: TaskHook | None = None,
        schedule_id: int | None = None,
        trigger: str | None = None,
        runner: str = "local",
        ray_address: str | None = None,
        containers: str = "auto",
    ) -> PipelineRun:
        """Run the pipeline at `path_spec` (`FILE.yaml|.json` or `FILE.py[:FUNC]`) with
        `params`; `on_task(summary)` is called as each task finishes. Bad params or an
        unsupported pipeline are InvalidInput before any record is made; a run that fails is
        returned with state FAILED. `schedule_id` and `trigger` say what started it.
        `runner="ray"` runs every task as a Ray task (at `ray_address`, `$RAY_ADDRESS` or a
        local Ray started for the run). `containers`: where container components run —
        `auto` (Docker when an engine answers, else local processes), `local` or `docker`."""

        from pmle.pipelines.bindings import parse_arguments
        from pmle.pipelines.compile import load_any_text
        from pmle.pipelines.docker import resolve_runtime
        from pmle.pipelines.ray_runner import check_runner
        from pmle.pipelines.support import check_supported

        _check_parallel(max_parallel)
        check_runner(runner)
        self.recover()
        early: list[TaskPool] = []

        def warm_workers() -> None:  # they import kfp while the pipeline compiles (≈ 0.5 s)
            if runner == "local":
                from pmle.pipelines.workers import WorkerPool

                pool = WorkerPool(max_parallel, env=self._worker_env())
                pool.warm()
                early.append(pool)

        try:
            spec, text = load_any_text(
                path_spec, cache_dir=self.compiled_dir, on_compile=warm_workers
            )
            runtime = resolve_runtime(containers) if _has_containers(spec) else "local"
            arguments = parse_params(spec, params or {})
            check_supported(spec)
            parse_arguments(spec, arguments)  # refuse bad arguments before recording a run
        except BaseException:
            for pool in early:
                pool.close()
            raise
        options = {
            "noCache": no_cache,
            "maxParallel": max_parallel,
            "runner": runner,
            "rayAddress": ray_address,
            "containers": runtime,
        }
        try:
            run_id = self._insert_run(
                spec.name, path_spec, arguments, options, schedule_id=schedule_id, trigger=trigger
            )
        except BaseException:
            for pool in early:
                pool.close()
            raise
        return self._execute(
            self.get(run_id),
            spec,
            arguments,
            on_task=on_task,
            pool=early[0] if early else None,
            spec_text=text,
        )

    def _insert_run(
        self,
        name: str,
        path_spec: str | Path,
        arguments: dict[str, Any],
        options: dict[str, Any],
        *,
        schedule_id: int | None,
        trigger: str | None,
    ) -> int:
        """Record a new RUNNING run owned by this process; its id."""
        from sqlalchemy import insert, update

        from pmle.storage.schema import pipeline_runs as t

        with self._ws.engine.begin() as conn:
            inserted = conn.execute(
                insert(t).values(
                    name=name,
                    run_name="",
                    state="RUNNING",
                    source=str(path_spec),
                    params=jsonable(arguments),
                    result={"options": options},
                    root_dir="",
                    started_at=utcnow(),
                    owner_host=this_host(),
                    owner_pid=os.getpid(),
                    attempt=1,
                    schedule_id=schedule_id,
                    trigger=trigger,
                )
            )
            key = inserted.inserted_primary_key
            assert key is not None
            run_id = int(key[0])
            conn.execute(
                update(t)
                .where(t.c.id == run_id)
                .values(run_name=f"{name}-{run_id}", root_dir=str(self.runs_dir / str(run_id)))
            )
        return run_id

    def retry(
        self,
        run_id: int | str,
        *,
        max_parallel: int | None = None,
        on_task: TaskHook | None = None,
    ) -> PipelineRun:
        """Run a FAILED or CANCELLED run again, in place: the same compiled pipeline and
        arguments; every task that succeeded before, with the same inputs, is reused, the
        rest run (the cache applies to them as the run's options say). A run that is still
        RUNNING, or SUCCEEDED, is a Conflict."""
        from sqlalchemy import update

        from pmle.pipelines.ir import parse_pipeline
        from pmle.storage.schema import pipeline_runs as t

        _check_parallel(max_parallel)
        self.recover()
        before = self.get(run_id)
        if before.state not in {"FAILED", "CANCELLED"}:
            raise Conflict(
                f"pipeline run {before.id} is {before.state}; only a failed or cancelled run "
                "can be retried",
                hint="cancel it first" if before.state == "RUNNING" else "run it anew instead",
            )
        spec_file = Path(before.root_dir) / SPEC_FILE
        try:
            spec = parse_pipeline(spec_file.read_text(encoding="utf-8"), origin=str(spec_file))
        except OSError as exc:
            raise NotFound(
                f"the compiled pipeline of run {before.id} is gone ({spec_file})",
                hint="run the pipeline anew",
            ) from exc
        options = before.options
        if max_parallel is not None:
            options["maxParallel"] = max_parallel
        (Path(before.root_dir) / CANCEL_FILE).unlink(missing_ok=True)  # an old request only
        with self._ws.engine.begin() as conn:
            claimed = conn.execute(
                update(t)
                .where(t.c.id == before.id, t.c.state == before.state)
                .values(
                    state="RUNNING",
                    error=None,
                    ended_at=None,
                    attempt=before.attempt + 1,
                    owner_host=this_host(),
                    owner_pid=os.getpid(),
                    result={**before.result, "options": options},
                )
            ).rowcount
        if claimed != 1:
            raise Conflict(f"pipeline run {before.id} was retried by someone else meanwhile")
        return self._execute(
            self.get(before.id), spec, dict(before.params), on_task=on_task, previous=before.tasks
        )

    def cancel(self, run_id: int | str, *, wait_s: float = 30.0) -> PipelineRun:
        """Cancel a RUNNING run: no task starts any more, running Python tasks are stopped,
        the run ends CANCELLED. The process running it is told through its run folder (it
        checks several times a second); this waits up to `wait_s` for it to end. An ended run
        (a run whose process is gone is FAILED by then) is a Conflict."""

        run = self.get(run_id)
        if run.ended:
            raise Conflict(f"pipeline run {run.id} already ended ({run.state})")
        event = _ACTIVE.get(self._key(run.id))
        if event is not None:
            event.set()
        else:
            (Path(run.root_dir) / CANCEL_FILE).touch()
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            run = self.get(run.id)
            if run.ended:
                break
            time.sleep(0.05)
        return run

    def recover(self) -> list[int]:
        """Mark FAILED every RUNNING run whose process (on this machine) is gone — killed
        mid-way — with the tasks its journal recorded, so it can be retried; their ids."""
        from sqlalchemy import select, update

        from pmle.storage.schema import pipeline_runs as t

        with self._ws.engine.connect() as conn:
            rows = conn.execute(
                select(t).where(t.c.state == "RUNNING", t.c.owner_host == this_host())
            ).all()
        marked = []
        for row in rows:
            run = run_of(row)
            if owner_alive(run.owner_host, run.owner_pid) or self._mine(run):
                continue
            with self._ws.engine.begin() as conn:
                done = conn.execute(
                    update(t)
                    .where(t.c.id == run.id, t.c.state == "RUNNING", t.c.attempt == run.attempt)
                    .values(
                        state="FAILED",
                        error=(
                            f"the process running it (pid {run.owner_pid}) ended before the "
                            "run finished; retry it with pmle pipelines retry "
                            f"{run.id}"
                        ),
                        result=self._recovered_result(run),
                        ended_at=utcnow(),
                    )
                ).rowcount
            if done:
                marked.append(run.id)
        return marked

    def _key(self, run_id: int) -> tuple[str, int]:
        return (self._ws.metadata_url, run_id)

    def _mine(self, run: PipelineRun) -> bool:
        return (
            run.owner_host == this_host()
            and run.owner_pid == os.getpid()
            and self._key(run.id) in _ACTIVE
        )

    @staticmethod
    def _recovered_result(run: PipelineRun) -> dict[str, Any]:
        tasks = merge_tasks(run.tasks, read_journal(Path(run.root_dir)))
        return {**run.result, "tasks": tasks}

    def _execute(
        self,
        run: PipelineRun,
        spec: PipelineSpec,
        arguments: dict[str, Any],
        *,
        on_task: TaskHook | None,
        previous: list[dict[str, Any]] | None = None,
        pool: TaskPool | None = None,
        spec_text: str | None = None,
    ) -> PipelineRun:
        """Run (or run again) the recorded `run` and store how it ended (in `pool`, when one
        was started for it already)."""
        from sqlalchemy import update

        from pmle.pipelines.cache import PipelineCache
        from pmle.pipelines.reuse import RunCache
        from pmle.pipelines.scheduler import run_pipeline
        from pmle.storage.schema import pipeline_runs as t

        root = Path(run.root_dir)
        options = run.options
        max_parallel = options.get("maxParallel")
        # The run's threads write one at a time: SQLite serialises writers anyway, and its
        # busy handler sleeps milliseconds between retries when they contend.
        write_lock = threading.Lock()
        store = (
            None
            if options.get("noCache")
            else PipelineCache(self._ws.engine, spec, run_id=run.id, write_lock=write_lock)
        )
        cache = RunCache(store, previous or (), root=str(root))
        journal_lock = threading.Lock()

        def on_event(kind: str, record: TaskRecord) -> None:
            if kind != "task_finished":
                return
            out_dir = str(record.log_path.parent) if record.log_path is not None else ""
            summary = task_summary(
                record, cache_hit=cache.is_hit(out_dir), reused=cache.is_reused(out_dir)
            )
            if not record.is_group and not summary["reused"]:
                if summary["cacheHit"]:  # its artifacts are in the graph already: write later
                    with journal_lock:
                        cached.append((record, summary))
                else:
                    with write_lock:
                        self._record_lineage(run, [(record, summary)])
            with journal_lock:
                append_journal(root, summary)
            if on_task is not None:
                on_task(summary)

        cached: list[tuple[TaskRecord, dict[str, Any]]] = []
        cancel, finished = threading.Event(), threading.Event()
        limiter = None
        state, error, result = "FAILED", None, dict(run.result)
        try:  # from here on, however it ends, the record says so
            root.mkdir(parents=True, exist_ok=True)
            if spec_text is not None:
                (root / SPEC_FILE).write_text(spec_text, encoding="utf-8")
            (root / JOURNAL).unlink(missing_ok=True)
            if pool is None:
                pool, limiter = self._pool(options)
            _ACTIVE[self._key(run.id)] = cancel
            threading.Thread(
                target=_watch_cancel,
                args=(root, cancel, finished, pool),
                name="pmle-cancel",
                daemon=True,
            ).start()
            outcome = run_pipeline(
                spec,
                arguments,
                root_dir=root,
                pool=pool,
                max_parallel=max_parallel,
                on_event=on_event,
                cache=cache,
                run_name=run.run_name,
                cancel=cancel,
                limiter=limiter,
                containers=options.get("containers") or "local",
            )
            if cached:  # the cache hits' executions, in one transaction
                with write_lock:
                    self._record_lineage(run, cached)
            tasks = merge_tasks(previous or [], read_journal(root))
            state = outcome.state
            failed = [s["key"] for s in tasks if s["state"] == "FAILED" and not s["isGroup"]]
            if state == "CANCELLED":
                error = "cancelled"
            elif failed:
                error = f"tasks failed: {', '.join(failed)}"
            result = {
                "options": options,
                "outputs": {
                    "parameters": jsonable(outcome.parameters),
                    "artifacts": refs_of(outcome.artifacts),
                },
                "tasks": tasks,
            }
        except BaseException as exc:
            error = str(exc) or type(exc).__name__
            result["tasks"] = merge_tasks(previous or [], read_journal(root))
            raise
        finally:
            finished.set()  # ends the watcher
            _ACTIVE.pop(self._key(run.id), None)
            if pool is not None:
                pool.close()
            (root / CANCEL_FILE).unlink(missing_ok=True)
            with self._ws.engine.begin() as conn:
                conn.execute(
                    update(t)
                    .where(t.c.id == run.id)
                    .values(state=state, error=error, result=result, ended_at=utcnow())
                )
        return self.get(run.id)

    def _pool(self, options: Mapping[str, Any]) -> tuple[TaskPool, ResourceLimiter | None]:
        """Where the run's tasks run, and the limiter of their CPU / memory limits (None:
        this machine's; Ray places tasks by their requests itself)."""
        env = self._worker_env()
        size = options.get("maxParallel")
        if options.get("runner") == "ray":
            from pmle.pipelines.limits import ResourceLimiter
            from pmle.pipelines.ray_runner import RayTaskPool

            pool = RayTaskPool(size, address=options.get("rayAddress"), env=env)
            return pool, ResourceLimiter(cpu=float(1 << 20), memory=1 << 62)
        from pmle.pipelines.workers import WorkerPool

        return WorkerPool(size, env=env), None

    def _worker_env(self) -> dict[str, str]:
        """What task processes get in their environment: the workspace they run in."""
        return {"PMLE_WORKSPACE": str(self._ws.root)}

    def _record_lineage(
        self, run: PipelineRun, finished: list[tuple[TaskRecord, dict[str, Any]]]
    ) -> None:
        """Finished leaf tasks as executions of the lineage graph, in one transaction."""
        from pmle.pipelines.lineage import record_task

        ended = {"SUCCEEDED", "FAILED"}  # skipped or cancelled tasks did not run
        ran = [(r, s) for r, s in finished if r.state in ended and r.start is not None]
        if not ran:
            return
        with self._ws.engine.begin() as conn:
            for record, summary in ran:
                state = "FAILED" if record.state == "FAILED" else "COMPLETE"
                record_task(
                    conn,
                    self._ws.lineage,
                    run_name=run.run_name,
                    run_id=run.id,
                    key=record.key,
                    component=record.component,
                    state="CACHED" if summary["cacheHit"] else state,
                    parameters=record.input_parameters,
                    inputs=record.input_artifacts,
                    outputs=record.artifacts,
                )

    def delete(self, run_id: int | str) -> PipelineRun:
        """Delete an ended run: its record, its folder (task outputs and logs) and the cache
        entries it made. Its lineage stays (history), naming URIs that are gone. A RUNNING
        run is a Conflict."""
        import shutil

        from sqlalchemy import delete

        from pmle.storage.schema import pipeline_cache, pipeline_runs

        run = self.get(run_id)
        if not run.ended:
            raise Conflict(f"pipeline run {run.id} is {run.state}", hint="cancel it first")
        with self._ws.engine.begin() as conn:
            conn.execute(delete(pipeline_cache).where(pipeline_cache.c.run_id == run.id))
            conn.execute(delete(pipeline_runs).where(pipeline_runs.c.id == run.id))
        if run.root_dir and Path(run.root_dir).is_relative_to(self.runs_dir):
            shutil.rmtree(run.root_dir, ignore_errors=True)
        return run

    def prune(self, older_than_s: float, *, dry_run: bool = False) -> list[PipelineRun]:
        """Delete (see :meth:`delete`) every ended run that ended more than `older_than_s`
        seconds ago; with `dry_run` only say which. The runs, oldest first."""
        from datetime import timedelta

        if older_than_s < 0:
            raise InvalidInput(f"older_than must not be negative, got {older_than_s:g} s")
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        old = [r for r in self.list() if r.ended and r.ended_at and r.ended_at < cutoff]
        old.sort(key=lambda r: r.id)
        if not dry_run:
            for run in old:
                self.delete(run.id)
        return old

    def list(
        self, pipeline: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[PipelineRun]:
        """Runs, newest first (of one pipeline with `pipeline`); with `limit` / `offset`, one
        page of them."""
        from sqlalchemy import select

        from pmle.storage.schema import pipeline_runs as t

        self.recover()
        query = select(t).order_by(t.c.id.desc())
        if pipeline is not None:
            query = query.where(t.c.name == pipeline)
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        with self._ws.engine.connect() as conn:
            return [run_of(row) for row in conn.execute(query)]

    def names(self) -> builtins.list[str]:
        """The names of the pipelines that have runs, sorted."""
        from sqlalchemy import select

        from pmle.storage.schema import pipeline_runs as t

        with self._ws.engine.connect() as conn:
            return list(conn.execute(select(t.c.name).distinct().order_by(t.c.name)).scalars())

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
        run = run_of(row)
        if run.state == "RUNNING" and not owner_alive(run.owner_host, run.owner_pid):
            self.recover()  # its process is gone: mark it FAILED first
            return self.get(key)
        return run
