"""Container components run as local processes, and importer nodes.

pmle runs a container component's `command + args` on this machine, with placeholders
resolved (:mod:`pmle.pipelines.placeholders`), the container's env vars added to this
process's environment, stdout and stderr in the task's log, and an optional wall-clock limit.
**The image is ignored**: there is no container engine here, so the command must exist on
this machine (`sh`, `echo`, a tool on PATH). A command starting with `python` / `python3`
runs with this interpreter, so Python steps see pmle's environment. Output folders are created
first (as the Kubeflow launcher does), output parameters are read from their `output_file`s,
and an executor_output.json the command writes at `{{$.outputs.output_file}}` is honoured.

An importer's artifact is its URI (a constant or the task's `uri` parameter) with the
metadata resolved; `file://` URIs become local paths. `reimport` does not apply (pmle records
what was imported in its lineage) and `downloadToWorkspace` is refused earlier by
:func:`~pmle.pipelines.support.check_supported`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

from pmle.errors import InvalidInput
from pmle.pipelines.executor_input import ArtifactRef, local_path
from pmle.pipelines.ir import Constant, ImporterSpec
from pmle.pipelines.placeholders import RunContext, resolve_command, resolve_json
from pmle.pipelines.tasks import TaskRequest, TaskResult, failed, finish, prepare_outputs

__all__ = ["resolve_container_command", "run_container", "run_importer"]

_PYTHONS = ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}")
_LOG_TAIL = 4000


def resolve_container_command(request: TaskRequest, *, local: bool = True) -> list[str]:
    """The argv a container task runs: command + args with placeholders resolved, and (for a
    `local` process) a leading `python` / `python3` replaced by this interpreter."""
    container = request.executor.container
    if container is None:
        raise InvalidInput(f"executor {request.executor.label!r} is not a container")
    argv = resolve_command(
        [*container.command, *container.args], request.executor_input, request.context
    )
    if not argv and local:
        raise InvalidInput(
            f"task {request.name!r}: container {container.image!r} has no command",
            hint="pmle ignores images, so a container component must name its command",
        )
    if local and argv[0] in _PYTHONS:
        argv[0] = sys.executable
    return argv


def run_container(request: TaskRequest) -> TaskResult:
    """Run a container component's command as a local process (the image is ignored), or in
    its image with Docker when `request.runtime` is `docker`, and collect its outputs; blocks
    until it ends. Failures (a placeholder that cannot be
    resolved, a missing command, a non-zero exit, the timeout, missing outputs) are FAILED
    results with the reason and the end of the log."""
    start = time.perf_counter()
    log_path = request.log_file
    log_path.parent.mkdir(parents=True, exist_ok=True)
    container = request.executor.container
    in_docker = request.runtime == "docker"
    name = None
    try:
        argv = resolve_container_command(request, local=not in_docker)
        if in_docker:
            from pathlib import Path

            from pmle.pipelines.docker import container_name, docker_argv

            name = container_name(request)
            root = Path(request.context.pipeline_root or request.output_dir)
            argv = docker_argv(request, argv, run_root=root, name=name)
    except InvalidInput as exc:
        log_path.write_text(f"{exc}\n", encoding="utf-8")
        return failed(request, str(exc), duration_s=time.perf_counter() - start)
    assert container is not None
    prepare_outputs(request.executor_input)
    env = dict(os.environ) if in_docker else {**os.environ, **container.env}
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=request.workdir,
                start_new_session=True,  # its own process group: a timeout kills its children
            )
        except OSError as exc:
            message = (
                f"task {request.name!r}: cannot run {argv[0]!r}: {exc.strerror or exc} "
                f"(pmle ignores the image {container.image!r} and runs the command here)"
            )
            log.write(message.encode("utf-8") + b"\n")
            return failed(request, message, duration_s=time.perf_counter() - start)
        try:
            code = proc.wait(timeout=request.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc, name)
            return failed(
                request,
                f"task {request.name!r} timed out after {request.timeout_s:g} s and was killed"
                + _tail(log_path),
                duration_s=time.perf_counter() - start,
            )
        except BaseException:
            _kill_group(proc, name)  # the caller was interrupted: leave no orphan behind
            raise
    duration = time.perf_counter() - start
    if code != 0:
        how = f"exit code {code}"
        if code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        return failed(
            request,
            f"task {request.name!r}: the command failed ({how})" + _tail(log_path),
            duration_s=duration,
        )
    return finish(request, duration, [])


def _kill_group(proc: subprocess.Popen[bytes], container: str | None = None) -> None:
    if container is not None:
        from pmle.pipelines.docker import kill

        kill(container)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _tail(path: os.PathLike[str] | str) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - _LOG_TAIL))
            text = f.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f"\n--- last lines of the task log ---\n{text}" if text else ""


def run_importer(
    importer: ImporterSpec,
    parameter_values: Mapping[str, Any],
    *,
    context: RunContext | None = None,
    name: str = "artifact",
) -> ArtifactRef:
    """The artifact an importer node yields: its URI (the constant, or the task input the
    `runtimeParameter` names, usually `uri`) with `file://` made a local path and a relative
    path made absolute, its metadata with placeholders resolved against the task's parameters
    (`n: "{{$.inputs.parameters['metadata']}}"` becomes the value itself, typed), and the
    importer's type. A remote URI (`gs://...`) is kept as it is: pmle cannot read it."""
    if isinstance(importer.artifact_uri, Constant):
        uri = importer.artifact_uri.value
    else:
        uri = parameter_values.get(importer.artifact_uri.name)
        if uri is None:
            raise InvalidInput(
                f"importer: its URI comes from input {importer.artifact_uri.name!r}, "
                "which has no value"
            )
    if not isinstance(uri, str) or not uri:
        raise InvalidInput(f"importer: artifact URI must be a non-empty string, got {uri!r}")
    document = {
        "inputs": {"parameterValues": {k: v for k, v in parameter_values.items() if v is not None}},
        "outputs": {"outputFile": ""},
    }
    metadata = resolve_json(dict(importer.metadata), document, context)
    return ArtifactRef(
        name=name,
        uri=local_path(uri),
        metadata=metadata,
        schema_title=importer.schema_title,
        schema_version=importer.schema_version or "0.0.1",
    )
