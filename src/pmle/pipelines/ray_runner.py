"""Pipeline tasks as Ray tasks: :class:`RayTaskPool` (`pmle pipelines run --runner ray`).

Every leaf task — lightweight Python component or container command — becomes one Ray task
that asks for the task's CPU and memory limits (`set_cpu_limit` / `set_memory_limit`; one
CPU when none is set) and the accelerators it requests, so Ray places it where they are free.
Inside the Ray worker a Python component runs exactly as in pmle's own workers
(:mod:`pmle.pipelines._worker`: kfp's executor, the log captured to the task's log file), and
a container command as a local process (:func:`~pmle.pipelines.container.run_container`);
outputs are read back as usual. Ray joins `address` (or `$RAY_ADDRESS`) or starts a local Ray
for the run (:func:`~pmle.compute.ray_runtime.ray_session`). Task outputs are files under the
run folder, so on a multi-machine cluster the workspace must be on a filesystem every node
mounts at the same path. Cancelling a run cancels its Ray tasks.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

from pmle.errors import Conflict, InvalidInput
from pmle.pipelines.tasks import TaskRequest, TaskResult, check_packages, failed

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["RayTaskPool"]


def _run_remote(request: TaskRequest, env: dict[str, str]) -> TaskResult:
    """The body of a Ray task: run one leaf task in this Ray worker."""
    import os
    import tempfile

    from pmle.pipelines.lightweight import lightweight_function
    from pmle.pipelines.tasks import finish, prepare_outputs

    os.environ.update(env)
    function = lightweight_function(request.executor)
    if function is None:
        from pmle.pipelines.container import run_container

        return run_container(request)
    os.environ["_KFP_RUNTIME"] = "true"
    from kfp.dsl.executor import Executor

    from pmle.pipelines import _worker

    prepare_outputs(request.executor_input)
    request.log_file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pmle-ray-component-") as tmp:
        source = os.path.join(tmp, "ephemeral_component.py")
        with open(source, "w", encoding="utf-8") as f:
            f.write(function.source)
        reply = _worker._run(
            {
                "executor_input": request.executor_input,
                "function": function.function_name,
                "source_path": source,
                "env": dict(request.executor.container.env) if request.executor.container else {},
                "log_path": str(request.log_file),
                "workdir": str(request.workdir) if request.workdir is not None else None,
            },
            Executor,
            {},
        )
    if not reply.get("ok"):
        result = failed(request, str(reply.get("error") or "the component failed"))
        result.duration_s = float(reply.get("seconds") or 0.0)
        return result
    return finish(request, float(reply.get("seconds") or 0.0), [])


class RayTaskPool:
    """Runs leaf tasks as Ray tasks (both kinds: `runs_containers` is True). `size` is how
    many run at once (default: the cluster's CPUs). `env` is set in the Ray worker for each
    task (a run sets `PMLE_WORKSPACE`)."""

    runs_containers = True

    def __init__(
        self,
        size: int | None = None,
        *,
        address: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        from pmle.compute.ray_runtime import ray_session

        self._stack = contextlib.ExitStack()
        self.ray: ModuleType = self._stack.enter_context(
            ray_session("running pipeline tasks with --runner ray", address=address)
        )
        try:
            cpus = int(self.ray.cluster_resources().get("CPU", 1))
        except BaseException:
            self._stack.close()  # do not leave a Ray started for this pool running
            raise
        self.size = size if size is not None else max(cpus, 1)
        self.env = dict(env or {})
        self._remote = self.ray.remote(_run_remote)
        self._lock = threading.Lock()
        self._inflight: set[Any] = set()
        self._closed = False

    def run(self, request: TaskRequest) -> TaskResult:
        """Run one leaf task as a Ray task; blocks until it ends. Failures (the component
        raised, missing packages or outputs, the task was cancelled) are FAILED results."""
        from pmle.pipelines.lightweight import lightweight_function
        from pmle.pipelines.limits import task_demand

        function = lightweight_function(request.executor)
        if function is not None and function.packages_to_install:
            missing, _ = check_packages(function.packages_to_install)
            if missing:
                return failed(
                    request,
                    f"packages_to_install not installed here: {', '.join(missing)}; pmle "
                    "does not install packages at run time",
                )
        options: dict[str, Any] = {"num_cpus": 1, "max_retries": 0}
        container = request.executor.container
        if container is not None:
            cpu, memory = task_demand(container.resources, request.executor_input)
            if cpu:
                options["num_cpus"] = cpu
            if memory:
                options["memory"] = memory
            count = container.resources.accelerator_count
            if count and str(count).isdigit() and int(count) > 0:
                options["num_gpus"] = int(count)
        start = time.perf_counter()
        with self._lock:  # submitted and tracked at once: close() cancels every task it sees
            if self._closed:
                raise Conflict("the Ray task pool is closed")
            ref = self._remote.options(**options).remote(request, self.env)
            self._inflight.add(ref)
        try:
            result: TaskResult = self.ray.get(ref)
        except Exception as exc:  # cancelled, or the Ray worker died
            reason = "cancelled" if self._closed else f"{type(exc).__name__}: {exc}"
            result = failed(request, f"the Ray task of {request.name!r} ended: {reason}")
        finally:
            with self._lock:
                self._inflight.discard(ref)
        if not result.duration_s:
            result.duration_s = time.perf_counter() - start
        return result

    def close(self) -> None:
        """Cancel the Ray tasks still running, and shut down a Ray this pool started."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            refs = list(self._inflight)
        for ref in refs:
            with contextlib.suppress(Exception):
                self.ray.cancel(ref, force=True)
        self._stack.close()


def check_runner(runner: str) -> str:
    """`runner` when it is `local` or `ray`, else InvalidInput."""
    if runner not in {"local", "ray"}:
        raise InvalidInput(f"unknown runner {runner!r}", hint="use local or ray")
    return runner
