"""Container components in Docker, when a Docker engine is reachable.

`containers="auto"` (the default of a run) runs container components in their image with
`docker run` when `docker info` answers, and as local processes otherwise; `"docker"` requires
the engine (InvalidInput before the run starts when there is none); `"local"` never uses it.

The container sees the run folder, and the local files of its input artifacts (read-only), at
the same paths as the host, so the resolved command and the ExecutorInput paths work
unchanged; it runs as the calling user (outputs stay owned by them), with the component's env
vars, its CPU / memory limits as `--cpus` / `--memory` and its accelerators as `--gpus`. The
image must be present or pullable. A timeout or a cancel kills the container by name.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    from pmle.pipelines.tasks import TaskRequest

__all__ = ["RUNTIMES", "docker_argv", "engine_available", "resolve_runtime"]

RUNTIMES = ("auto", "local", "docker")
DOCKER = os.environ.get("PMLE_DOCKER", "docker")


def engine_available(binary: str | None = None) -> bool:
    """Whether a Docker engine answers `docker info` (within 10 s); asked once per process
    and binary (`PMLE_DOCKER`, default `docker`)."""
    return _answers(binary or DOCKER)


@functools.cache
def _answers(binary: str) -> bool:
    if shutil.which(binary) is None:
        return False
    try:
        done = subprocess.run(
            [binary, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def resolve_runtime(runtime: str) -> str:
    """`local` or `docker` for a run's `containers` option (see the module docstring)."""
    if runtime not in RUNTIMES:
        raise InvalidInput(f"unknown container runtime {runtime!r}", hint="auto, local or docker")
    if runtime == "auto":
        return "docker" if engine_available() else "local"
    if runtime == "docker" and not engine_available():
        raise InvalidInput(
            "containers='docker' but no Docker engine answers `docker info`",
            hint="start Docker, or run container components as local processes (local)",
        )
    return runtime


def container_name(request: TaskRequest) -> str:
    """A name unique to this task attempt (Docker allows [a-zA-Z0-9_.-])."""
    import re
    import uuid

    base = re.sub(r"[^a-zA-Z0-9_.-]+", "-", f"pmle-{request.context.pipeline_job_name}")
    return f"{base[:60]}-{uuid.uuid4().hex[:8]}"


def _mounts(request: TaskRequest, run_root: Path) -> list[str]:
    from pmle.pipelines.executor_input import local_path

    args = ["-v", f"{run_root}:{run_root}"]
    inputs = (request.executor_input.get("inputs") or {}).get("artifacts") or {}
    seen = {str(run_root)}
    for entry in inputs.values():
        for artifact in entry.get("artifacts") or ():
            path = local_path(str(artifact.get("uri", "")))
            if "://" in path or not os.path.exists(path):
                continue
            if any(path == s or path.startswith(s + os.sep) for s in seen):
                continue
            seen.add(path)
            args += ["-v", f"{path}:{path}:ro"]
    return args


def docker_argv(
    request: TaskRequest,
    command: Iterable[str],
    *,
    run_root: Path,
    name: str,
) -> list[str]:
    """The `docker run` command line of a container task whose resolved command + args are
    `command` (the image's entrypoint is replaced by its first word)."""
    from pmle.pipelines.limits import task_demand

    container = request.executor.container
    assert container is not None
    argv = [DOCKER, "run", "--rm", "--name", name, "--user", f"{os.getuid()}:{os.getgid()}"]
    argv += _mounts(request, run_root)
    workdir = request.workdir or run_root
    argv += ["-w", str(workdir)]
    for key, value in container.env.items():
        argv += ["-e", f"{key}={value}"]
    cpu, memory = task_demand(container.resources, request.executor_input)
    if cpu:
        argv += ["--cpus", f"{cpu:g}"]
    if memory:
        argv += ["--memory", str(memory)]
    count = container.resources.accelerator_count
    if count and str(count).isdigit() and int(count) > 0:
        argv += ["--gpus", str(int(count))]
    words = list(command)
    if words:
        argv += ["--entrypoint", words[0], container.image, *words[1:]]
    else:
        argv.append(container.image)
    return argv


def kill(name: str) -> None:
    """Stop a task's container (a timeout, a cancel); quiet when it is already gone."""
    try:
        subprocess.run([DOCKER, "kill", name], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        pass
