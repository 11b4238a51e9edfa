"""What pmle runs of a compiled pipeline, checked before a run starts.

:func:`check_supported` raises one InvalidInput naming every feature pmle does not run;
:func:`ignored_features` lists platform settings that have no meaning for a local process
(node selectors, tolerations, pod labels, image pull settings), for the runner to warn about.

Rejected, and why:

* executors other than `container` and `importer` (`resolver`, `customJob`): they query
  MLMD or launch Vertex custom jobs, which do not exist here;
* accelerators (`set_accelerator_type` / `set_accelerator_limit`) unless the caller passes
  `allow_accelerators=True`: a local run cannot promise a GPU, so running such a step would
  silently change what it does;
* platform config (kfp-kubernetes: secrets, config maps, volumes, PVCs, empty dirs, field
  paths, deadlines, init containers, security context, resource claims; pipeline-level
  workspaces / semaphores; per-component `singlePlatformSpecs`): each changes what the
  step sees or how it is scheduled on a cluster, and pmle has no cluster behind it;
* `TASK_CONFIG` parameters and `taskConfigPassthroughs` (Kubernetes task config handed to
  the component), importers with `downloadToWorkspace` (pipeline workspaces);
* artifact types other than kfp's `system.*` classes (google.* / custom schemas);
* trigger strategies other than ALL_UPSTREAM_TASKS_SUCCEEDED / _COMPLETED, conditions that
  are not valid CEL (kfp 2.17 emits invalid CEL for a string channel compared with an int
  channel and for a quote inside a string literal) or read parameters the task lacks;
* input bindings, `parameterExpressionSelector`s and IR fields pmle does not know;
* malformed static resource quantities and negative retry / parallelism settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pmle.errors import InvalidInput
from pmle.pipelines.conditions import parse_condition
from pmle.pipelines.ir import (
    PARAMETER_TYPES,
    Component,
    ContainerSpec,
    Executor,
    PipelineSpec,
    Task,
    UnknownSource,
)
from pmle.pipelines.quantities import cpu_cores, is_placeholder, memory_bytes

__all__ = [
    "SUPPORTED_ARTIFACT_TYPES",
    "check_supported",
    "ignored_features",
    "unsupported_features",
]

SUPPORTED_ARTIFACT_TYPES = frozenset(
    {
        "system.Artifact",
        "system.Dataset",
        "system.Model",
        "system.Metrics",
        "system.ClassificationMetrics",
        "system.SlicedClassificationMetrics",
        "system.HTML",
        "system.Markdown",
    }
)
_STRATEGIES = frozenset({"ALL_UPSTREAM_TASKS_SUCCEEDED", "ALL_UPSTREAM_TASKS_COMPLETED"})
# kfp-kubernetes settings that only steer a cluster's scheduler: no meaning for a local process.
_IGNORABLE_PLATFORM_KEYS = frozenset(
    {
        "nodeSelector",
        "tolerations",
        "nodeAffinity",
        "podAffinity",
        "podMetadata",
        "imagePullPolicy",
        "imagePullSecret",
    }
)
_PLATFORM_FEATURES = {
    "secretAsVolume": "kubernetes.use_secret_as_volume",
    "secretAsEnv": "kubernetes.use_secret_as_env",
    "pvcMount": "kubernetes.mount_pvc",
    "configMapAsVolume": "kubernetes.use_config_map_as_volume",
    "configMapAsEnv": "kubernetes.use_config_map_as_env",
    "activeDeadlineSeconds": "kubernetes.set_timeout",
    "fieldPathAsEnv": "kubernetes.use_field_path_as_env",
    "genericEphemeralVolume": "kubernetes.add_ephemeral_volume",
    "enabledSharedMemory": "kubernetes.enable_shared_memory",
    "emptyDirMounts": "kubernetes.empty_dir_mount",
    "securityContext": "a Kubernetes security context",
    "initContainers": "Kubernetes init containers",
    "podResourceClaims": "Kubernetes resource claims",
}
_MAX_LISTED = 25


def check_supported(spec: PipelineSpec, *, allow_accelerators: bool = False) -> None:
    """Raise InvalidInput naming each feature of `spec` pmle does not run (see module doc)."""
    problems = unsupported_features(spec, allow_accelerators=allow_accelerators)
    if not problems:
        return
    shown = problems[:_MAX_LISTED]
    more = f"; and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
    raise InvalidInput(
        f"pipeline {spec.name!r} uses what pmle cannot run locally: {'; '.join(shown)}{more}",
        hint="remove these settings from the pipeline (or run it on Vertex AI / Kubeflow)",
    )


def unsupported_features(spec: PipelineSpec, *, allow_accelerators: bool = False) -> list[str]:
    """One line per unsupported feature, in a stable order; empty when the pipeline can run."""
    problems: list[str] = []
    if not spec.schema_version.startswith("2."):
        problems.append(f"schemaVersion {spec.schema_version!r} (pmle reads 2.x)")
    for comp in (spec.root, *spec.components.values()):
        problems.extend(_component_problems(comp))
        if comp.dag is not None:
            for task in comp.dag.tasks.values():
                problems.extend(
                    f"task {task.key!r} in {comp.name}: {p}" for p in _task_problems(task)
                )
    for executor in spec.executors.values():
        problems.extend(_executor_problems(executor, allow_accelerators))
    problems.extend(_platform_problems(spec.platform_spec))
    return list(dict.fromkeys(problems))


def ignored_features(spec: PipelineSpec) -> list[str]:
    """Platform settings pmle accepts but ignores (cluster scheduling hints), one line each."""
    return [
        f"{platform} executor {label!r}: {key}"
        for platform, label, key, _ in _platform_settings(spec.platform_spec)
        if key in _IGNORABLE_PLATFORM_KEYS
    ]


def _component_problems(comp: Component) -> Iterator[str]:
    for key in comp.unknown_fields:
        what = {
            "singlePlatformSpecs": "platform-specific config (singlePlatformSpecs)",
            "taskConfigPassthroughs": "task config passthroughs (dsl.TaskConfig)",
        }.get(key, f"IR field {key!r}")
        yield f"component {comp.name}: {what}"
    for side, interface in (("input", comp.inputs), ("output", comp.outputs)):
        for p in interface.parameters.values():
            if p.type == "TASK_CONFIG":
                yield f"component {comp.name} {side} {p.name!r}: dsl.TaskConfig parameter"
            elif p.type not in PARAMETER_TYPES:
                yield f"component {comp.name} {side} {p.name!r}: parameter type {p.type}"
        for a in interface.artifacts.values():
            if a.schema_title not in SUPPORTED_ARTIFACT_TYPES:
                yield (
                    f"component {comp.name} {side} {a.name!r}: artifact type {a.schema_title} "
                    "(pmle runs kfp's system.* artifact types)"
                )


def _task_problems(task: Task) -> Iterator[str]:
    for key in task.unknown_fields:
        yield f"IR field {key!r}"
    if task.strategy not in _STRATEGIES:
        yield f"trigger strategy {task.strategy}"
    if task.condition is not None:
        try:
            condition = parse_condition(task.condition)
        except InvalidInput as exc:
            yield str(exc)
        else:
            for name in sorted(condition.parameters - task.parameters.keys()):
                yield f"condition reads {name!r}, which is not an input of the task"
    for binding in task.parameters.values():
        if isinstance(binding.source, UnknownSource):
            yield f"input {binding.name!r} bound by {list(binding.source.kinds)}"
        if binding.selector_text is not None and binding.selector is None:
            yield (
                f"input {binding.name!r}: parameterExpressionSelector "
                f"{binding.selector_text!r} (pmle reads parseJson(string_value)[key])"
            )
    for art in task.artifacts.values():
        if isinstance(art.source, UnknownSource):
            yield f"input artifact {art.name!r} bound by {list(art.source.kinds)}"
    it = task.parameter_iterator
    if it is not None:
        if it.items is None and it.input_parameter is None:
            yield "a ParallelFor with neither raw items nor an input parameter"
        elif it.input_parameter is not None and it.input_parameter not in task.parameters:
            yield f"a ParallelFor over {it.input_parameter!r}, which is not an input of the task"
    ait = task.artifact_iterator
    if ait is not None and ait.input_artifact not in task.artifacts:
        yield f"a ParallelFor over artifact {ait.input_artifact!r}, which the task does not take"
    if task.parallelism_limit < 0:
        yield f"parallelism limit {task.parallelism_limit}"
    retry = task.retry
    if retry is not None and (retry.max_retry_count < 0 or retry.backoff_factor <= 0):
        yield f"retry policy {retry}"


def _executor_problems(executor: Executor, allow_accelerators: bool) -> Iterator[str]:
    where = f"executor {executor.label}"
    if executor.kind not in ("container", "importer"):
        yield f"{where}: a {executor.kind} node (pmle runs containers and importers)"
    if executor.container is not None:
        yield from (f"{where}: {p}" for p in _container_problems(executor.container))
        res = executor.container.resources
        if res.accelerator_type and not allow_accelerators:
            yield (
                f"{where}: accelerator {res.accelerator_type} x{res.accelerator_count or 1} "
                "(set_accelerator_type; pass allow_accelerators=True to run it without one)"
            )
    importer = executor.importer
    if importer is not None:
        if importer.download_to_workspace:
            yield f"{where}: importer downloadToWorkspace (pipeline workspaces)"
        for key in importer.unknown_fields:
            yield f"{where}: importer field {key!r}"
        if importer.schema_title not in SUPPORTED_ARTIFACT_TYPES:
            yield f"{where}: imports artifact type {importer.schema_title}"


def _container_problems(container: ContainerSpec) -> Iterator[str]:
    for key in container.unknown_fields:
        yield f"container field {key!r}"
    res = container.resources
    for value, parse in (
        (res.cpu_limit, cpu_cores),
        (res.cpu_request, cpu_cores),
        (res.memory_limit, memory_bytes),
        (res.memory_request, memory_bytes),
    ):
        if value is not None and not is_placeholder(value):
            try:
                parse(value)
            except InvalidInput as exc:
                yield exc.message


def _platform_settings(platform_spec: dict[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    platforms = platform_spec.get("platforms") or {}
    if not isinstance(platforms, dict):
        return
    for name, single in platforms.items():
        executors = ((single or {}).get("deploymentSpec") or {}).get("executors") or {}
        for label, config in executors.items():
            for key, value in (config or {}).items():
                if value not in (None, "", [], {}, 0, False):
                    yield name, label, key, value


def _platform_problems(platform_spec: dict[str, Any]) -> Iterator[str]:
    if not platform_spec:
        return
    platforms = platform_spec.get("platforms")
    if not isinstance(platforms, dict):
        yield "a second YAML document that is not a platform spec"
        return
    for platform, label, key, _ in _platform_settings(platform_spec):
        if key not in _IGNORABLE_PLATFORM_KEYS:
            what = _PLATFORM_FEATURES.get(key, f"setting {key!r}")
            yield f"{platform} executor {label!r}: {what}"
    for name, single in platforms.items():
        single = single or {}
        for section in ("pipelineConfig", "config"):
            for key, value in (single.get(section) or {}).items():
                if value not in (None, "", [], {}):
                    yield f"{name} {section}: {key}"
