"""Run a compiled KFP v2 pipeline locally: :func:`run_pipeline`.

One coordinator thread per task of a DAG instance waits for the task's upstream siblings, then
resolves its inputs (:mod:`pmle.pipelines.bindings`) and runs it: a leaf in one bounded
ThreadPoolExecutor shared by the run (so coordinators never hold its threads), a DAG group
(condition branch, loop, exit handler, nested pipeline) as a child DAG instance. Loop iterations
run concurrently, at most `parallelismLimit` at once. A task whose upstream did not succeed is
SKIPPED unless its strategy is ALL_UPSTREAM_TASKS_COMPLETED (exit handlers); a false condition
is SKIPPED, not FAILED. Collected loop outputs are lists in iteration order (nested loops give
lists of lists, not flattened); a OneOf output takes the first branch that ran.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pmle.pipelines.bindings import Scope, SiblingResult, parse_arguments, resolve_inputs
from pmle.pipelines.executor_input import ArtifactRef
from pmle.pipelines.ir import Component, Dag, DagOutput, PipelineSpec, Task

if TYPE_CHECKING:
    from pmle.pipelines.limits import ResourceLimiter
    from pmle.pipelines.tasks import TaskPool, TaskRequest, TaskResult

__all__ = ["PipelineRunResult", "TaskCache", "TaskRecord", "inputs_digest", "run_pipeline"]

SUCCEEDED, FAILED, SKIPPED, CANCELLED = "SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED"
EventHook = Callable[[str, "TaskRecord"], None]
#: Iterations of a loop without `parallelism` coordinated at once (each holds a thread; their
#: leaf tasks are bounded by the run's pool anyway), so a loop over 100,000 items does not start
#: 100,000 threads.
MAX_LIVE_ITERATIONS = 128


class TaskCache(Protocol):
    """Where cached task results live (not built yet: the scheduler only calls the hook)."""

    def lookup(self, task: Task, executor_input: dict[str, Any]) -> TaskResult | None: ...

    def store(self, task: Task, executor_input: dict[str, Any], result: TaskResult) -> None: ...


@dataclass
class TaskRecord:
    """One task (leaf or group) of one DAG instance; `key` is its path from `root`."""

    key: str
    name: str
    state: str = "PENDING"
    attempts: int = 0
    start: float | None = None
    end: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, list[ArtifactRef]] = field(default_factory=dict)
    log_path: Path | None = None
    error: str | None = None
    is_group: bool = False
    component: str = ""
    upstream: list[str] = field(default_factory=list)  # keys of the sibling tasks it waits for
    input_parameters: dict[str, Any] = field(default_factory=dict)
    input_artifacts: dict[str, list[ArtifactRef]] = field(default_factory=dict)
    inputs_digest: str | None = None  # of a leaf's resolved inputs (see `inputs_digest`)


@dataclass
class PipelineRunResult:
    """How a run ended: state, every task's record by key, the pipeline's outputs."""

    state: str
    tasks: dict[str, TaskRecord]
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, list[ArtifactRef]] = field(default_factory=dict)
    run_name: str = ""

    @property
    def succeeded(self) -> bool:
        """Whether the run succeeded."""
        return self.state == SUCCEEDED


@dataclass
class _DagOutcome:
    state: str
    parameters: dict[str, Any]
    artifacts: dict[str, list[ArtifactRef]]
    error: str | None = None


class _Run:
    def __init__(
        self,
        spec: PipelineSpec,
        root_dir: Path,
        pool: TaskPool,
        leaves: ThreadPoolExecutor,
        on_event: EventHook | None,
        cache: TaskCache | None,
        run_name: str,
        limiter: ResourceLimiter,
        cancel: threading.Event,
        containers: str,
    ) -> None:
        self.spec, self.root_dir, self.pool, self.leaves = spec, root_dir, pool, leaves
        self.on_event, self.cache, self.run_name = on_event, cache, run_name
        self.limiter, self.cancel, self.containers = limiter, cancel, containers
        self.records: dict[str, TaskRecord] = {}
        self.lock = threading.Lock()

    def event(self, kind: str, record: TaskRecord) -> None:
        if self.on_event is not None:
            self.on_event(kind, record)

    # ---- a DAG instance --------------------------------------------------------------------

    def run_dag(self, dag: Dag, scope: Scope, path: str) -> _DagOutcome:
        siblings: dict[str, SiblingResult] = {}
        done = {key: threading.Event() for key in dag.tasks}

        def coordinate(task: Task) -> None:
            try:
                for dep in task.upstream:
                    done[dep].wait()
                siblings[task.key] = self.run_node(task, scope, f"{path}/{task.key}", siblings)
            except BaseException as exc:  # a bug must not hang the DAG
                siblings[task.key] = SiblingResult(FAILED, task.display_name, error=repr(exc))
            finally:
                done[task.key].set()

        threads = [
            threading.Thread(target=coordinate, args=(t,), name=f"pmle-{path}/{t.key}", daemon=True)
            for t in dag.tasks.values()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        failed = [k for k, s in siblings.items() if s.state == FAILED]
        params, arts = _dag_outputs(dag, siblings)
        error = f"tasks {sorted(failed)} failed" if failed else None
        if self.cancel.is_set() and any(s.state == CANCELLED for s in siblings.values()):
            return _DagOutcome(CANCELLED, params, arts, "the run was cancelled")
        return _DagOutcome(FAILED if failed else SUCCEEDED, params, arts, error)

    # ---- one task --------------------------------------------------------------------------

    def run_node(
        self, task: Task, scope: Scope, key: str, siblings: dict[str, SiblingResult]
    ) -> SiblingResult:
        component = self.spec.component(task.component)
        record = TaskRecord(
            key,
            task.display_name,
            is_group=component.dag is not None,
            component=task.component,
            upstream=[f"{key.rpartition('/')[0]}/{u}" for u in task.upstream],
        )
        with self.lock:
            self.records[key] = record
        if self.cancel.is_set():
            return self.finish(record, CANCELLED, error="the run was cancelled")
        upstream_ok = all(siblings[d].state == SUCCEEDED for d in task.upstream)
        if not upstream_ok and task.strategy != "ALL_UPSTREAM_TASKS_COMPLETED":
            return self.finish(record, SKIPPED, error="an upstream task did not succeed")
        try:
            params, arts = resolve_inputs(task, scope, siblings, self.run_name)
            if task.condition:
                from pmle.pipelines.conditions import evaluate

                if not evaluate(task.condition, params):
                    return self.finish(record, SKIPPED, error="condition is false")
        except Exception as exc:  # any resolution error fails the task
            return self.finish(record, FAILED, error=str(exc))
        record.input_parameters, record.input_artifacts = dict(params), dict(arts)
        record.start = time.time()
        record.state = "RUNNING"
        self.event("task_started", record)
        if component.dag is not None:  # a nested DAG's own defaults (leaves get theirs later)
            for name, pspec in component.inputs.parameters.items():
                if name not in params and pspec.has_default and pspec.default is not None:
                    params[name] = pspec.default
        child = Scope(params, arts, parent=scope)
        try:
            if component.dag is not None:
                outcome = (
                    self.run_loop(task, component, child, key)
                    if task.is_loop
                    else self.run_dag(component.dag, child, key)
                )
                record.parameters, record.artifacts = outcome.parameters, outcome.artifacts
                return self.finish(record, outcome.state, error=outcome.error)
            return self.run_leaf(task, component, params, arts, record)
        except Exception as exc:  # a failing runner fails the task
            if self.cancel.is_set():  # e.g. the pool was closed under it
                return self.finish(record, CANCELLED, error="the run was cancelled")
            return self.finish(record, FAILED, error=str(exc))

    def finish(self, record: TaskRecord, state: str, *, error: str | None = None) -> SiblingResult:
        record.state, record.error = state, error
        record.end = time.time()
        self.event("task_finished", record)
        return SiblingResult(state, record.name, record.parameters, record.artifacts, error)

    def run_loop(self, task: Task, component: Component, scope: Scope, key: str) -> _DagOutcome:
        assert component.dag is not None
        if task.parameter_iterator is not None:
            it = task.parameter_iterator
            items: list[Any]
            if it.items is not None:
                items = list(it.items)
            else:
                value = scope.parameter(it.input_parameter or "")
                if isinstance(value, str):
                    import json

                    value = json.loads(value)
                items = list(value)
            item_input = it.item_input
        else:
            assert task.artifact_iterator is not None
            items = list(scope.artifact(task.artifact_iterator.input_artifact) or [])
            item_input = task.artifact_iterator.item_input
        live = task.parallelism_limit or min(max(len(items), 1), MAX_LIVE_ITERATIONS)
        limit = threading.BoundedSemaphore(live)
        outcomes: list[_DagOutcome | None] = [None] * len(items)
        dag = component.dag

        def iteration(index: int, item: Any) -> None:
            try:
                if task.artifact_iterator is not None:
                    child = Scope({}, {item_input: [item]}, parent=scope)
                else:
                    child = Scope({item_input: item}, {}, parent=scope)
                outcomes[index] = self.run_dag(dag, child, f"{key}/iteration-{index}")
            finally:
                limit.release()

        threads = []
        for index, item in enumerate(items):
            limit.acquire()  # a limited loop never has more iterations (threads) alive
            thread = threading.Thread(target=iteration, args=(index, item), daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        done = [o for o in outcomes if o is not None]
        if self.cancel.is_set() and any(o.state == CANCELLED for o in done):
            return _DagOutcome(CANCELLED, {}, {}, "the run was cancelled")
        failed = len(done) < len(items) or any(o.state == FAILED for o in done)
        params = {n: [o.parameters.get(n) for o in done] for n in dag.parameter_outputs}
        arts: dict[str, list[ArtifactRef]] = {
            n: [a for o in done for a in o.artifacts.get(n, [])] for n in dag.artifact_outputs
        }
        return _DagOutcome(FAILED if failed else SUCCEEDED, params, arts, None)

    def run_leaf(
        self,
        task: Task,
        component: Component,
        params: dict[str, Any],
        arts: dict[str, list[ArtifactRef]],
        record: TaskRecord,
    ) -> SiblingResult:
        from pmle.pipelines.executor_input import build_executor_input
        from pmle.pipelines.limits import task_demand
        from pmle.pipelines.placeholders import RunContext
        from pmle.pipelines.tasks import TaskRequest

        executor = self.spec.executor(component)
        context = RunContext(
            pipeline_job_name=self.run_name,
            pipeline_job_resource_name=self.run_name,
            pipeline_task_name=task.display_name,
            pipeline_root=str(self.root_dir),
        )
        if executor.importer is not None:
            from pmle.pipelines.container import run_importer

            record.attempts = 1
            name = next(iter(component.outputs.artifacts), "artifact")
            ref = run_importer(executor.importer, params, context=context, name=name)
            record.artifacts = {name: [ref]}
            return self.finish(record, SUCCEEDED)
        out_dir = self.root_dir / record.key
        executor_input = build_executor_input(
            component, executor, params, arts, out_dir, context=context
        )
        request = TaskRequest(
            task.display_name,
            component,
            executor,
            executor_input,
            context=context,
            runtime=self.containers,
        )
        record.log_path = request.log_file
        record.inputs_digest = inputs_digest(executor_input)
        demand = (0.0, 0)
        if executor.container is not None:
            demand = task_demand(executor.container.resources, executor_input)
        result = self.cache.lookup(task, executor_input) if self.cache is not None else None
        retries = task.retry.max_retry_count if task.retry is not None else 0
        attempt = 0
        while result is None:
            attempt += 1
            record.attempts = attempt
            result = self.leaves.submit(self.limited, request, demand).result()
            if self.cancel.is_set() and not result.succeeded:
                return self.finish(record, CANCELLED, error="the run was cancelled")
            if not result.succeeded and attempt <= retries:
                assert task.retry is not None
                self.event("task_retrying", record)
                if self.cancel.wait(task.retry.delay(attempt)):
                    return self.finish(record, CANCELLED, error="the run was cancelled")
                result = None
        if result.succeeded and self.cache is not None:
            self.cache.store(task, executor_input, result)
        record.parameters = dict(result.parameters)
        record.artifacts = {n: [a] for n, a in result.artifacts.items()}
        return self.finish(record, SUCCEEDED if result.succeeded else FAILED, error=result.error)

    def limited(self, request: TaskRequest, demand: tuple[float, int]) -> TaskResult:
        """Run a leaf once its CPU / memory limits fit in what is free."""
        from pmle.pipelines.tasks import TaskResult, TaskState, run_task

        if self.cancel.is_set():
            return TaskResult(TaskState.FAILED, error="the run was cancelled")
        if demand == (0.0, 0):
            return run_task(request, self.pool)
        with self.limiter.hold(*demand):
            return run_task(request, self.pool)


def inputs_digest(executor_input: dict[str, Any]) -> str:
    """A digest of a leaf's resolved inputs: its parameter values and input artifact URIs. A
    retried run reuses a task that succeeded before only when this digest is unchanged."""
    import hashlib
    import json

    inputs = executor_input.get("inputs") or {}
    artifacts = {
        name: [a.get("uri", "") for a in entry.get("artifacts") or []]
        for name, entry in (inputs.get("artifacts") or {}).items()
    }
    canonical = json.dumps(
        {"parameters": inputs.get("parameterValues") or {}, "artifacts": artifacts},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _pick(output: DagOutput, siblings: dict[str, SiblingResult], kind: str) -> Any:
    for selector in output.selectors:
        sib = siblings.get(selector.task)
        if sib is None or sib.state != SUCCEEDED:
            continue
        values = sib.parameters if kind == "parameters" else sib.artifacts
        if selector.output in values:
            return values[selector.output]
    return None


def _dag_outputs(
    dag: Dag, siblings: dict[str, SiblingResult]
) -> tuple[dict[str, Any], dict[str, list[ArtifactRef]]]:
    params: dict[str, Any] = {}
    for name, output in dag.parameter_outputs.items():
        value = _pick(output, siblings, "parameters")
        if value is not None:
            params[name] = value
    arts: dict[str, list[ArtifactRef]] = {}
    for name, output in dag.artifact_outputs.items():
        refs = _pick(output, siblings, "artifacts")
        if refs is not None:
            arts[name] = refs
    return params, arts


def run_pipeline(
    spec: PipelineSpec,
    arguments: dict[str, Any] | None = None,
    *,
    root_dir: Path,
    pool: TaskPool,
    max_parallel: int | None = None,
    on_event: EventHook | None = None,
    cache: TaskCache | None = None,
    run_name: str | None = None,
    allow_accelerators: bool = False,
    limiter: ResourceLimiter | None = None,
    cancel: threading.Event | None = None,
    containers: str = "local",
) -> PipelineRunResult:
    """Run `spec` with `arguments` (typed by the pipeline's inputs; a missing required one is
    InvalidInput before anything runs). Task outputs go under `root_dir/<task key path>`.
    At most `max_parallel` (default: the pool's size) leaf tasks run at once. `on_event(kind,
    record)` is called with `task_started`, `task_retrying`, `task_finished`. `cache` (may be
    None) is asked before a leaf runs and told its successful result. `allow_accelerators`
    runs tasks that ask for GPUs without one (see `check_supported`). Leaves with CPU / memory
    limits hold them in `limiter` (default: this machine's cores and memory) while they run.
    Once `cancel` is set no task starts, a retry's wait ends, tasks that then fail (stop the
    pool to kill running ones) are CANCELLED, and so is the run. Container components run
    as local processes, or with `containers="docker"` in their image (see
    :mod:`pmle.pipelines.docker`)."""
    from pmle.pipelines.limits import ResourceLimiter
    from pmle.pipelines.support import check_supported

    check_supported(spec, allow_accelerators=allow_accelerators)
    scope = parse_arguments(spec, arguments or {})
    root_dir = Path(root_dir).absolute()
    root_dir.mkdir(parents=True, exist_ok=True)
    name = run_name or f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    with ThreadPoolExecutor(max_parallel or pool.size, thread_name_prefix="pmle-leaf") as leaves:
        limits = limiter if limiter is not None else ResourceLimiter()
        stop = cancel if cancel is not None else threading.Event()
        run = _Run(spec, root_dir, pool, leaves, on_event, cache, name, limits, stop, containers)
        outcome = run.run_dag(spec.dag, scope, "root")
    return PipelineRunResult(
        outcome.state, run.records, outcome.parameters, outcome.artifacts, name
    )
