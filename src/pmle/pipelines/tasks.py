"""One leaf task of a pipeline run: what to run (:class:`TaskRequest`), how it ended
(:class:`TaskResult`), and its outputs read back from disk (:func:`collect_outputs`).

:func:`run_task` runs a request with the right runner: a lightweight Python component in a
:class:`~pmle.pipelines.workers.WorkerPool`, any other container as a local process
(:func:`~pmle.pipelines.container.run_container`). Importers are not tasks of this kind; see
:func:`~pmle.pipelines.container.run_importer`.

Outputs are read as the Kubeflow backend reads them: parameters from executor_output.json's
`parameterValues` first, then from each output parameter's `outputFile` (where `OutputPath`
parameters and container components write them: STRING raw, BOOLEAN `json.loads(lower())`,
anything else `json.loads`), typed by `outputDefinitions`. A declared output parameter found in
neither place fails the task, as on the backend. Output artifacts keep the URI of the
ExecutorInput unless executor_output.json says otherwise, and take its metadata
(Metrics / ClassificationMetrics exist only as metadata: no file is written for them).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pmle.errors import InvalidInput
from pmle.pipelines.executor_input import ArtifactRef, local_path, output_dir_of
from pmle.pipelines.ir import Component, Executor, normalise_value
from pmle.pipelines.placeholders import RunContext

__all__ = [
    "TaskPool",
    "TaskRequest",
    "TaskResult",
    "TaskState",
    "check_packages",
    "collect_outputs",
    "run_task",
]

LOG_FILE = "task.log"
_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class TaskState(enum.StrEnum):
    """How a task ended."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class TaskRequest:
    """A leaf task ready to run: its component and executor, the ExecutorInput built by
    :func:`~pmle.pipelines.executor_input.build_executor_input`, where its log goes (default
    `<output_dir>/task.log`, rewritten per attempt), an optional wall-clock limit and working
    folder, and the run context for `{{$.pipeline_*}}` placeholders in container commands."""

    name: str
    component: Component
    executor: Executor
    executor_input: dict[str, Any]
    log_path: Path | None = None
    timeout_s: float | None = None
    workdir: Path | None = None
    context: RunContext = field(default_factory=RunContext)
    runtime: str = "local"  # a container component's: local (a process) or docker

    @property
    def output_dir(self) -> Path:
        """The task's output folder (where executor_output.json goes)."""
        return output_dir_of(self.executor_input)

    @property
    def log_file(self) -> Path:
        """Where the task's stdout and stderr go."""
        return self.log_path if self.log_path is not None else self.output_dir / LOG_FILE


class TaskPool(Protocol):
    """Where leaf tasks run: pmle's :class:`~pmle.pipelines.workers.WorkerPool` or a
    :class:`~pmle.pipelines.ray_runner.RayTaskPool`."""

    size: int

    def run(self, request: TaskRequest) -> TaskResult: ...

    def close(self) -> None: ...


@dataclass
class TaskResult:
    """How a task ended: state, typed output parameters, output artifacts, the log, the error
    (a traceback for a raising component), wall time and warnings (e.g. a package whose
    installed version differs from the pinned one)."""

    state: TaskState
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)
    log_path: Path | None = None
    error: str | None = None
    duration_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    executor_output: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        """Whether the task succeeded."""
        return self.state is TaskState.SUCCEEDED


def failed(request: TaskRequest, error: str, *, duration_s: float = 0.0) -> TaskResult:
    """A FAILED result for `request`."""
    return TaskResult(
        TaskState.FAILED, log_path=request.log_file, error=error, duration_s=duration_s
    )


def prepare_outputs(executor_input: Mapping[str, Any]) -> None:
    """Remove a stale executor_output.json and output parameter files (an earlier attempt's)
    and create the folders outputs are written into."""
    outputs = executor_input["outputs"]
    stale = [outputs["outputFile"]]
    stale += [p["outputFile"] for p in (outputs.get("parameters") or {}).values()]
    for file in stale:
        Path(file).unlink(missing_ok=True)
        Path(file).parent.mkdir(parents=True, exist_ok=True)
    for entry in (outputs.get("artifacts") or {}).values():
        for artifact in entry.get("artifacts") or ():
            path = local_path(artifact["uri"])
            if "://" not in path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)


def _read_parameter_file(path: Path, parameter_type: str) -> Any:
    text = path.read_text(encoding="utf-8")
    if parameter_type == "STRING":
        return text
    if parameter_type == "BOOLEAN":
        return json.loads(text.strip().lower())
    return json.loads(text)


def collect_outputs(
    component: Component, executor_input: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, ArtifactRef], dict[str, Any]]:
    """(parameters, artifacts, raw executor output) of a finished task, read from its output
    folder. A missing or unreadable output parameter is InvalidInput."""
    where = f"component {component.name!r}"
    outputs = executor_input["outputs"]
    output_file = Path(outputs["outputFile"])
    raw: dict[str, Any] = {}
    if output_file.is_file():
        try:
            raw = json.loads(output_file.read_text(encoding="utf-8") or "{}")
        except ValueError as exc:
            raise InvalidInput(f"{where} wrote an executor output that is not JSON: {exc}")
        if not isinstance(raw, dict):
            raise InvalidInput(f"{where} wrote an executor output that is not a JSON object")

    written = raw.get("parameterValues") or {}
    files = outputs.get("parameters") or {}
    parameters: dict[str, Any] = {}
    for name, spec in component.outputs.parameters.items():
        if name in written:
            value = written[name]
        elif name in files and Path(files[name]["outputFile"]).is_file():
            try:
                value = _read_parameter_file(Path(files[name]["outputFile"]), spec.type)
            except ValueError as exc:
                raise InvalidInput(
                    f"{where}: output parameter {name!r} ({spec.type}) in "
                    f"{files[name]['outputFile']} is not valid: {exc}"
                )
        else:
            raise InvalidInput(
                f"{where} did not write its output parameter {name!r}",
                hint="return it, or write it to its OutputPath",
            )
        parameters[name] = normalise_value(
            spec.type, value, where=f"{where} output parameter {name!r}"
        )

    written_artifacts = raw.get("artifacts") or {}
    artifacts: dict[str, ArtifactRef] = {}
    for name, aspec in component.outputs.artifacts.items():
        given = ((outputs.get("artifacts") or {}).get(name) or {}).get("artifacts") or [{}]
        base = given[0]
        produced = (written_artifacts.get(name) or {}).get("artifacts") or [{}]
        entry = produced[0] if isinstance(produced[0], dict) else {}
        uri = entry.get("uri") or base.get("uri", "")
        metadata = entry.get("metadata", base.get("metadata")) or {}
        artifacts[name] = ArtifactRef(
            name=entry.get("name") or base.get("name") or name,
            uri=local_path(uri) if uri.startswith("file:") else uri,
            metadata=dict(metadata),
            schema_title=aspec.schema_title,
            schema_version=aspec.schema_version or "0.0.1",
        )
    return parameters, artifacts, raw


def finish(request: TaskRequest, duration_s: float, warnings: list[str]) -> TaskResult:
    """The result of a task whose process succeeded: its outputs, or FAILED when they cannot
    be read."""
    try:
        parameters, artifacts, raw = collect_outputs(request.component, request.executor_input)
    except InvalidInput as exc:
        result = failed(request, str(exc), duration_s=duration_s)
        result.warnings = warnings
        return result
    return TaskResult(
        TaskState.SUCCEEDED,
        parameters=parameters,
        artifacts=artifacts,
        log_path=request.log_file,
        duration_s=duration_s,
        warnings=warnings,
        executor_output=raw,
    )


def check_packages(packages: Sequence[str]) -> tuple[list[str], list[str]]:
    """(missing, warnings) for a component's `packages_to_install`: pmle does not pip-install
    at run time, so each must already be installed here. A requirement whose environment
    marker is false is skipped; an installed version outside the pinned range, or a
    requirement pmle cannot check (a bare URL), is only a warning."""
    from importlib import metadata

    missing: list[str] = []
    warnings: list[str] = []
    for spec in packages:
        name, specifier = _parse_requirement(spec)
        if name is None:
            warnings.append(f"cannot tell which package {spec!r} installs; not checked")
            continue
        if name == "":
            continue  # environment marker false here
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(spec)
            continue
        if specifier is not None and not specifier.contains(version, prereleases=True):
            warnings.append(f"{spec!r} is pinned, but {name} {version} is installed; using it")
    return missing, warnings


def _parse_requirement(spec: str) -> tuple[str | None, Any]:
    """(distribution name or None when unknown, or "" when its marker is false; specifier)."""
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # packaging is nearly always there; fall back to the bare name
        if "://" in spec and " @ " not in spec:
            return None, None
        match = _NAME_RE.match(spec)
        return (match.group(1) if match else None), None
    try:
        req = Requirement(spec)
    except InvalidRequirement:
        return None, None
    if req.marker is not None and not req.marker.evaluate():
        return "", None
    return req.name, (req.specifier if str(req.specifier) else None)


def run_task(request: TaskRequest, pool: TaskPool | None = None) -> TaskResult:
    """Run one leaf task: a lightweight Python component in `pool` (required for those), any
    other container component as a local process — or anything in `pool` when the pool runs
    containers too (`runs_containers`, as a Ray pool does)."""
    from pmle.pipelines.lightweight import lightweight_function

    if request.executor.container is None:
        raise InvalidInput(
            f"task {request.name!r}: executor {request.executor.label!r} is a "
            f"{request.executor.kind}, not a container",
            hint="run importers with run_importer",
        )
    if pool is not None and getattr(pool, "runs_containers", False):
        return pool.run(request)  # e.g. a RayTaskPool: it runs every kind of task
    if lightweight_function(request.executor) is not None:
        if pool is None:
            raise InvalidInput(f"task {request.name!r} is a Python component: pass a WorkerPool")
        return pool.run(request)
    from pmle.pipelines.container import run_container

    return run_container(request)
