"""A pool of warm worker processes that run KFP lightweight Python components.

Each worker is a plain `python` child process (the interpreter running pmle) that imports
`kfp.dsl.executor` once, under `_KFP_RUNTIME=true` (≈ 0.04 s instead of ≈ 0.55 s for the
full kfp import), then runs one task at a time: kfp's `Executor` sets a module global, so a
process never runs two tasks at once. Requests and replies are JSON lines over pipes; see
:mod:`pmle.pipelines._worker` for what a worker does per task (log capture, env vars, a fresh
module per task, what is restored afterwards).

Why not `multiprocessing` (spawn / forkserver): both re-import the parent's `__main__` in the
child, which re-runs a user script without a `__main__` guard and fails in notebooks, and
they pickle the target. A `python -c` child that runs one stdlib-only file avoids both, and
its environment is exactly what the pool passes.

:meth:`WorkerPool.run` is safe to call from many threads (the scheduler's ThreadPoolExecutor):
at most `size` tasks run at once, the rest wait for a worker. A raising component comes back
as a FAILED :class:`~pmle.pipelines.tasks.TaskResult` carrying its traceback. A worker that
dies (segfault, `os._exit`) or overruns the task's `timeout_s` is killed with its process
group, the task is FAILED, and a fresh worker is started in its place. `packages_to_install`
are never installed: a missing one fails the task before it runs, naming it.

POSIX only (replies are awaited with `select` on a pipe).
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from pmle.errors import Conflict, InvalidInput, PmleError
from pmle.pipelines.tasks import (
    TaskRequest,
    TaskResult,
    check_packages,
    failed,
    finish,
    prepare_outputs,
)

__all__ = ["WorkerPool"]

_WORKER_FILE = Path(__file__).with_name("_worker.py")
_LOG_TAIL = 4000
_KFP_HINT = "kfp comes with pmle: pip install 'kfp>=2.17.3,<3' in this environment"


class _WorkerGone(Exception):
    """The worker process ended, or was killed, before it replied."""


class _SendFailed(_WorkerGone):
    """The request could not be written: the worker was gone before it got the task."""


class _Worker:
    """The parent's handle on one worker process."""

    def __init__(self, python: str, extra_env: dict[str, str]) -> None:
        env = dict(os.environ)
        env.update(extra_env)
        env["_KFP_RUNTIME"] = "true"
        env.setdefault("PYTHONUNBUFFERED", "1")
        bootstrap = f"import runpy; runpy.run_path({str(_WORKER_FILE)!r}, run_name='__main__')"
        self.proc = subprocess.Popen(
            [python, "-c", bootstrap],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            env=env,
            start_new_session=True,  # its own process group: killed with its children
        )
        self.ready = False
        self.tasks = 0
        self._buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message).encode("utf-8") + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise _SendFailed(str(exc))

    def receive(self, deadline: float | None) -> dict[str, Any] | None:
        """The next reply; None when `deadline` (a monotonic time) passes first."""
        assert self.proc.stdout is not None
        while b"\n" not in self._buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:  # the pool may kill the worker (and close its pipe) while we wait
                fd = self.proc.stdout.fileno()
                readable, _, _ = select.select([fd], [], [], wait)
                if not readable:
                    return None
                chunk = os.read(fd, 1 << 16)
            except (OSError, ValueError) as exc:
                raise _WorkerGone(f"its pipe was closed ({exc})")
            if not chunk:
                raise _WorkerGone("end of output")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def request(self, message: dict[str, Any], deadline: float | None) -> dict[str, Any] | None:
        """Send a request and wait for its reply (after the ready line of a new worker)."""
        self.send(message)
        self.tasks += 1
        while not self.ready:
            hello = self.receive(deadline)
            if hello is None:
                return None
            if not hello.get("ready"):
                self.kill()
                raise PmleError(
                    "the pipeline worker cannot import kfp:\n" + str(hello.get("error", "")),
                    hint=_KFP_HINT,
                )
            self.ready = True
        return self.receive(deadline)

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()

    def stop(self, timeout_s: float = 2.0) -> None:
        try:
            self.send({"op": "exit"})
            self.proc.wait(timeout_s)
        except (_WorkerGone, subprocess.TimeoutExpired):
            pass
        self.kill()

    def exit_description(self) -> str:
        code = self.proc.wait()
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"


def _stop_all(workers: set[_Worker]) -> None:
    for worker in list(workers):
        worker.kill()
    workers.clear()


def _log_tail(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - _LOG_TAIL))
            return f.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


class WorkerPool:
    """Up to `size` warm worker processes running lightweight Python components.

    `size` defaults to the number of CPUs. Workers start on demand (or all at once with
    :meth:`start`) and live until :meth:`close`. Component sources are written once per
    content hash under `cache_dir` (a private temp folder by default, removed on close).
    `python` is the interpreter the workers run (default: this one). With `max_tasks`, a
    worker is replaced after that many tasks (memory a component leaks, modules it loads).
    `env` is added to the workers' environment (a run sets `PMLE_WORKSPACE` there)."""

    def __init__(
        self,
        size: int | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        python: str | None = None,
        max_tasks: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.size = size if size is not None else (os.cpu_count() or 1)
        if self.size < 1:
            raise InvalidInput(f"a worker pool needs at least one worker, got {size}")
        self.python = python or sys.executable
        self.max_tasks = max_tasks
        self.env = dict(env or {})
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if cache_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="pmle-components-")
            cache_dir = self._tmp.name
        self.cache_dir = Path(cache_dir)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.size)
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._sources: dict[str, Path] = {}
        self._packages_ok: set[tuple[str, ...]] = set()
        self._closed = False
        self._finalizer = weakref.finalize(self, _stop_all, self._workers)

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self, timeout_s: float = 60.0) -> None:
        """Start every worker now and wait until each has imported kfp, so the first tasks pay
        no start-up (tasks submitted meanwhile wait); raises when a worker cannot start."""
        for _ in range(self.size):
            self._slots.acquire()
        try:
            with self._lock:
                self._check_open()
                while len(self._workers) < self.size:
                    self._idle.append(self._spawn())
                pending = [w for w in self._idle if not w.ready]
            deadline = time.monotonic() + timeout_s
            for worker in pending:
                try:
                    hello = worker.receive(deadline)
                except _WorkerGone:
                    hello = {"ready": False, "error": f"it exited ({worker.exit_description()})"}
                if hello is None or not hello.get("ready"):
                    self._discard(worker)
                    detail = "timed out" if hello is None else str(hello.get("error", ""))
                    raise PmleError(
                        f"a pipeline worker did not start: {detail}",
                        hint=_KFP_HINT,
                    )
                worker.ready = True
        finally:
            for _ in range(self.size):
                self._slots.release()

    def warm(self) -> None:
        """Start every worker now without waiting for it: each imports kfp while the caller
        does something else (a run compiling its pipeline); tasks then find it ready."""
        with self._lock:
            if self._closed:
                return
            while len(self._workers) < self.size:
                self._idle.append(self._spawn())

    def close(self) -> None:
        """Stop every worker (a task still running is killed and reported FAILED)."""
        with self._lock:
            self._closed = True
            idle = list(self._idle)
            busy = [w for w in self._workers if w not in idle]
            self._idle.clear()
        for worker in busy:
            worker.kill()
        for worker in idle:
            worker.stop()
        with self._lock:
            self._workers.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def alive(self) -> int:
        """How many worker processes are running."""
        with self._lock:
            return sum(1 for w in self._workers if w.proc.poll() is None)

    # ---- running ---------------------------------------------------------------------------

    def run(self, request: TaskRequest) -> TaskResult:
        """Run a lightweight Python component task; blocks until it ends. Task failures
        (the component raised, its worker died, it timed out, packages are missing, outputs
        are missing) come back as FAILED results. Raises InvalidInput for a request that is
        not a lightweight Python component, Conflict once the pool is closed."""
        from pmle.pipelines.lightweight import lightweight_function

        self._check_open()
        function = lightweight_function(request.executor)
        if function is None:
            raise InvalidInput(
                f"task {request.name!r}: executor {request.executor.label!r} is not a "
                "lightweight Python component",
                hint="run container components with run_container",
            )
        start = time.perf_counter()
        log = request.log_file
        log.parent.mkdir(parents=True, exist_ok=True)
        warnings: list[str] = []
        packages = tuple(function.packages_to_install)
        if packages and packages not in self._packages_ok:
            missing, warnings = check_packages(packages)
            if missing:
                message = (
                    f"packages_to_install not installed here: {', '.join(missing)}. pmle runs "
                    "components in its own environment and does not install packages at run "
                    f"time: pip install {' '.join(repr(m) for m in missing)}"
                )
                log.write_text(message + "\n", encoding="utf-8")
                result = failed(request, message, duration_s=time.perf_counter() - start)
                result.warnings = warnings
                return result
            if not warnings:
                self._packages_ok.add(packages)
        prepare_outputs(request.executor_input)
        payload: dict[str, Any] = {
            "op": "run",
            "executor_input": request.executor_input,
            "function": function.function_name,
            "source_path": str(self._source_file(function.source)),
            "env": dict(request.executor.container.env) if request.executor.container else {},
            "log_path": str(log),
            "workdir": str(request.workdir) if request.workdir is not None else None,
        }
        self._slots.acquire()  # waiting for a free worker counts neither as run time nor timeout
        start = time.perf_counter()
        deadline = None if request.timeout_s is None else time.monotonic() + request.timeout_s
        try:
            for attempt in (1, 2):
                worker = self._take()
                try:
                    reply = worker.request(payload, deadline)
                except _SendFailed:  # it died while idle: the task never reached it
                    self._discard(worker)
                    if attempt == 1:
                        continue
                    reply = {"gone": True}
                except _WorkerGone:
                    reply = {"gone": True}
                except PmleError as exc:
                    self._discard(worker)
                    return failed(request, str(exc), duration_s=time.perf_counter() - start)
                except BaseException:  # interrupted (KeyboardInterrupt): stop the task too
                    self._discard(worker, replace=True)
                    raise
                break
            if reply is None or reply.get("gone"):
                return self._lost(request, worker, reply is None, start, warnings)
            self._give_back(worker)
        finally:
            self._slots.release()
        duration = time.perf_counter() - start
        if not reply.get("ok"):
            result = failed(request, str(reply.get("error") or "the component failed"))
            result.duration_s, result.warnings = duration, warnings
            return result
        return finish(request, duration, warnings)

    def _lost(
        self, request: TaskRequest, worker: _Worker, timed_out: bool, start: float, warns: list[str]
    ) -> TaskResult:
        """The task's worker is gone (it died, or overran the timeout and is killed)."""
        closed = self._closed
        if timed_out:
            worker.kill()
            error = f"task {request.name!r} timed out after {request.timeout_s:g} s and was killed"
        else:
            how = worker.exit_description()
            error = (
                f"task {request.name!r} was stopped: the worker pool was closed"
                if closed
                else f"the worker process running task {request.name!r} died ({how})"
            )
        tail = _log_tail(request.log_file)
        if tail:
            error += "\n--- last lines of the task log ---\n" + tail
        self._discard(worker, replace=not closed)
        result = failed(request, error, duration_s=time.perf_counter() - start)
        result.warnings = warns
        return result

    # ---- workers ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise Conflict("the worker pool is closed", hint="create a new WorkerPool")

    def _spawn(self) -> _Worker:
        worker = _Worker(self.python, self.env)
        self._workers.add(worker)
        return worker

    def _take(self) -> _Worker:
        with self._lock:
            self._check_open()
            while self._idle:
                worker = self._idle.pop()
                if worker.proc.poll() is None:
                    return worker
                self._workers.discard(worker)
                worker.kill()
            return self._spawn()

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed and (self.max_tasks is None or worker.tasks < self.max_tasks):
                self._idle.append(worker)
                return
        worker.stop()
        self._discard(worker, replace=True)

    def _discard(self, worker: _Worker, *, replace: bool = False) -> None:
        worker.kill()
        with self._lock:
            self._workers.discard(worker)
            if worker in self._idle:
                self._idle.remove(worker)
            if replace and not self._closed and len(self._workers) < self.size:
                self._idle.insert(0, self._spawn())  # warms while the scheduler goes on

    def _source_file(self, source: str) -> Path:
        digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:24]
        with self._lock:
            path = self._sources.get(digest)
        if path is not None:
            return path
        path = self.cache_dir / digest / "ephemeral_component.py"
        if not path.is_file() or path.read_text(encoding="utf-8") != source:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(source, encoding="utf-8")
            os.replace(tmp, path)
        with self._lock:
            self._sources[digest] = path
        return path
