"""The worker process of :class:`pmle.pipelines.workers.WorkerPool` (runs in the child).

Started as `python -c "runpy.run_path(THIS_FILE)"` with `_KFP_RUNTIME=true`, so it imports
neither pmle nor kfp's client (kubernetes, google-auth): only `kfp.dsl.executor`, once. It
then reads one JSON request per line from its stdin and answers one JSON line on its stdout.
Both pipes are moved to private descriptors first, and fds 0/1 point at /dev/null, so a
component that prints or reads stdin cannot corrupt the protocol.

Per task: fds 1 and 2 are redirected to the task's log file (so output of C code and child
processes is captured too; faulthandler writes a crashing task's traceback there), the
container's env vars are set, the source (a file, compiled once per path) is executed into a
fresh `ephemeral_component` module, as kfp's executor_main does, and
`Executor(executor_input, function).execute()` writes executor_output.json. Afterwards
environment, working folder, sys.path and sys.stdout/err are restored. Imported modules stay
loaded: that is what makes the worker warm.

Only the standard library is imported here at module level: this file must not depend on pmle.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import time
import traceback
import types
from typing import Any

_MODULE_NAME = "ephemeral_component"
_MAX_CODE_CACHE = 256


def _send(out: Any, message: dict[str, Any]) -> None:
    try:
        out.write(json.dumps(message).encode("utf-8") + b"\n")
        out.flush()
    except BrokenPipeError:  # the pool's process is gone (killed): nobody to answer
        os._exit(0)


def _restore_env(saved: dict[str, str]) -> None:
    for key in [k for k in os.environ if k not in saved]:
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _code(path: str, cache: dict[str, Any]) -> Any:
    code = cache.get(path)
    if code is None:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        code = compile(source, path, "exec", dont_inherit=True)  # no __future__ of ours
        if len(cache) >= _MAX_CODE_CACHE:
            cache.pop(next(iter(cache)))
        cache[path] = code
    return code


def _format_error(exc: BaseException, source_path: str) -> str:
    """The traceback from the component's own first frame on (the worker's and kfp's
    Executor frames above it say nothing about the failure); all of it when the error did
    not pass through the component's code."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != source_path:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def _run(request: dict[str, Any], executor_cls: Any, cache: dict[str, Any]) -> dict[str, Any]:
    log = open(request["log_path"], "wb")  # noqa: SIM115 - closed in finally
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_path = list(sys.path)
    saved_streams = (sys.stdout, sys.stderr)
    for stream in saved_streams:
        stream.flush()
    saved_fds = (os.dup(1), os.dup(2))
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    error: str | None = None
    start = time.perf_counter()
    try:
        os.environ.update(request.get("env") or {})
        if request.get("workdir"):
            os.chdir(request["workdir"])
        module = types.ModuleType(_MODULE_NAME)
        module.__file__ = request["source_path"]
        sys.modules[_MODULE_NAME] = module
        exec(_code(request["source_path"], cache), module.__dict__)
        function = getattr(module, request["function"], None)
        if function is None:
            raise RuntimeError(f"the component source defines no function {request['function']!r}")
        executor_cls(request["executor_input"], function).execute()
    except SystemExit as exc:
        if exc.code not in (None, 0):
            error = f"the component called sys.exit({exc.code!r})"
            print(error, file=sys.stderr)
    except BaseException as exc:
        error = _format_error(exc, request["source_path"])
        print(error, file=sys.stderr, end="")
    finally:
        for stream in (sys.stdout, sys.stderr, *saved_streams):
            try:
                stream.flush()
            except Exception:
                pass
        sys.stdout, sys.stderr = saved_streams
        os.dup2(saved_fds[0], 1)
        os.dup2(saved_fds[1], 2)
        for fd in saved_fds:
            os.close(fd)
        log.close()
        sys.modules.pop(_MODULE_NAME, None)
        sys.path[:] = saved_path
        try:
            os.chdir(saved_cwd)
        except OSError:
            pass
        _restore_env(saved_env)
    return {"ok": error is None, "error": error, "seconds": time.perf_counter() - start}


def main() -> None:
    """Serve requests until stdin closes or an `exit` request arrives."""
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        except Exception:
            pass
    faulthandler.enable()  # fd 2: the task's log while a task runs
    os.environ["_KFP_RUNTIME"] = "true"
    try:
        from kfp.dsl.executor import Executor
    except BaseException:
        _send(replies, {"ready": False, "error": traceback.format_exc()})
        return
    _send(replies, {"ready": True, "pid": os.getpid()})
    cache: dict[str, Any] = {}
    for line in requests:
        request = json.loads(line)
        if request.get("op") == "exit":
            break
        _send(replies, _run(request, Executor, cache))


if __name__ == "__main__":
    main()
