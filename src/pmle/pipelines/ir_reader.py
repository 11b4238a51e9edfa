"""Reads the raw IR mappings of a compiled pipeline into :mod:`pmle.pipelines.ir` dataclasses.

Private to :mod:`pmle.pipelines.ir` (use :func:`~pmle.pipelines.ir.load_pipeline`). Loading
rejects a malformed document (dangling references, wrong shapes) with InvalidInput; features
pmle does not run are only recorded here and rejected by
:func:`pmle.pipelines.support.check_supported`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from pmle.errors import InvalidInput
from pmle.pipelines.ir import (
    MAX_BACKOFF_S,
    ArtifactInput,
    ArtifactIterator,
    ArtifactSpec,
    CachingOptions,
    Component,
    Constant,
    ContainerSpec,
    Dag,
    DagOutput,
    Executor,
    ImporterSpec,
    Interface,
    OutputSelector,
    ParameterInput,
    ParameterIterator,
    ParameterSpec,
    ParentInput,
    PipelineSpec,
    Resources,
    RetryPolicy,
    Task,
    TaskFinalStatus,
    TaskOutput,
    UnknownSource,
    integral_floats_to_int,
    normalise_value,
    parse_duration,
)

__all__ = ["read_pipeline"]

# schemaVersion 2.0.0 files written by kfp 1.8 use the deprecated PrimitiveType names.
_LEGACY_TYPES = {"INT": "NUMBER_INTEGER", "DOUBLE": "NUMBER_DOUBLE", "STRING": "STRING"}
_SELECTOR_RE = re.compile(r"""parseJson\(string_value\)((?:\[(?:"[^"]*"|'[^']*'|\d+)\])+)""")
_SELECTOR_STEP_RE = re.compile(r"""\[(?:"([^"]*)"|'([^']*)'|(\d+))\]""")


def _parse_selector(text: str) -> tuple[str | int, ...] | None:
    """`parseJson(string_value)["b"]` (a loop item's sub-variable) as the key path `("b",)`."""
    match = _SELECTOR_RE.fullmatch(text.strip())
    if match is None:
        return None
    steps: list[str | int] = []
    for step in _SELECTOR_STEP_RE.finditer(match.group(1)):
        double, single, index = step.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(double if double is not None else single)
    return tuple(steps)


def read_pipeline(doc: dict[str, Any], platform: dict[str, Any], origin: str) -> PipelineSpec:
    """The :class:`PipelineSpec` of a pipeline's first YAML document (plus platform config)."""
    if "root" not in doc and isinstance(doc.get("pipelineSpec"), dict):  # a PipelineJob file
        doc = doc["pipelineSpec"]
    if not isinstance(doc.get("root"), dict) or not isinstance(doc.get("pipelineInfo"), dict):
        raise InvalidInput(
            f"{origin} is not a compiled pipeline (no 'root' or 'pipelineInfo')",
            hint="pass the YAML kfp's compiler writes",
        )
    info = doc["pipelineInfo"]
    name = info.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{origin}: pipelineInfo.name is missing")
    reader = _Reader(origin)
    components = {
        key: reader.component(key, raw) for key, raw in _mapping(doc, "components", origin).items()
    }
    root = reader.component("root", doc["root"])
    if root.dag is None:
        raise InvalidInput(f"{origin}: root has no dag")
    executors_raw = _mapping(_mapping(doc, "deploymentSpec", origin), "executors", origin)
    executors = {label: reader.executor(label, raw) for label, raw in executors_raw.items()}
    spec = PipelineSpec(
        name=name,
        root=root,
        components=components,
        executors=executors,
        schema_version=str(doc.get("schemaVersion", "")),
        sdk_version=doc.get("sdkVersion"),
        description=info.get("description"),
        display_name=info.get("displayName"),
        default_pipeline_root=doc.get("defaultPipelineRoot"),
        platform_spec=platform,
    )
    return _link(spec, origin)


def _mapping(raw: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: {key} must be a mapping, got {type(value).__name__}")
    return value


_TASK_FIELDS = {
    "taskInfo",
    "inputs",
    "dependentTasks",
    "cachingOptions",
    "componentRef",
    "triggerPolicy",
    "artifactIterator",
    "parameterIterator",
    "retryPolicy",
    "iteratorPolicy",
}
_COMPONENT_FIELDS = {"inputDefinitions", "outputDefinitions", "dag", "executorLabel"}
_CONTAINER_FIELDS = {"image", "command", "args", "env", "resources"}
_IMPORTER_FIELDS = {"artifactUri", "typeSchema", "metadata", "reimport", "downloadToWorkspace"}


class _Reader:
    """Turns raw IR mappings into dataclasses; `where` strings locate errors."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, where: str, what: str) -> InvalidInput:
        return InvalidInput(f"{self.origin}: {where}: {what}", hint="recompile it with kfp")

    def interface(self, raw: Any, where: str) -> Interface:
        if not raw:
            return Interface()
        params: dict[str, ParameterSpec] = {}
        for pname, p in _mapping(raw, "parameters", where).items():
            ptype = p.get("parameterType") or _LEGACY_TYPES.get(p.get("type", ""), "")
            ptype = str(ptype or "PARAMETER_TYPE_ENUM_UNSPECIFIED")
            has_default = "defaultValue" in p
            default = (
                normalise_value(ptype, p["defaultValue"], where=f"{where}: default of {pname!r}")
                if has_default
                else None
            )
            spec = ParameterSpec(
                name=pname,
                type=ptype,
                default=default,
                has_default=has_default,
                optional=bool(p.get("isOptional", False)),
                description=p.get("description"),
            )
            params[pname] = spec
        artifacts: dict[str, ArtifactSpec] = {}
        for aname, a in _mapping(raw, "artifacts", where).items():
            atype = a.get("artifactType") or {}
            title = atype.get("schemaTitle") or (
                "<instanceSchema>" if "instanceSchema" in atype else "<schemaUri>"
            )
            artifacts[aname] = ArtifactSpec(
                name=aname,
                schema_title=title,
                schema_version=atype.get("schemaVersion"),
                is_list=bool(a.get("isArtifactList", False)),
                optional=bool(a.get("isOptional", False)),
                description=a.get("description"),
            )
        return Interface(params, artifacts)

    def component(self, name: str, raw: Any) -> Component:
        where = f"component {name!r}"
        if not isinstance(raw, dict):
            raise self.fail(where, "is not a mapping")
        has_dag, label = "dag" in raw, raw.get("executorLabel")
        if has_dag == (label is not None):
            raise self.fail(where, "needs exactly one of 'dag' and 'executorLabel'")
        return Component(
            name=name,
            inputs=self.interface(raw.get("inputDefinitions"), where),
            outputs=self.interface(raw.get("outputDefinitions"), where),
            dag=self.dag(raw["dag"] or {}, where) if has_dag else None,
            executor_label=label,
            unknown_fields=tuple(sorted(k for k in raw if k not in _COMPONENT_FIELDS and raw[k])),
        )

    def dag(self, raw: dict[str, Any], where: str) -> Dag:
        tasks = {key: self.task(key, t, where) for key, t in _mapping(raw, "tasks", where).items()}
        outputs = _mapping(raw, "outputs", where)
        params: dict[str, DagOutput] = {}
        for oname, o in _mapping(outputs, "parameters", where).items():
            if "valueFromParameter" in o:
                sel = o["valueFromParameter"]
                params[oname] = DagOutput(oname, (self.selector(sel, "outputParameterKey"),))
            elif "valueFromOneof" in o:
                sels = o["valueFromOneof"].get("parameterSelectors") or []
                chosen = tuple(self.selector(s, "outputParameterKey") for s in sels)
                params[oname] = DagOutput(oname, chosen, oneof=True)
            else:
                raise self.fail(f"{where}: dag output {oname!r}", "has no value source")
        arts: dict[str, DagOutput] = {}
        for oname, o in _mapping(outputs, "artifacts", where).items():
            sels = tuple(
                self.selector(s, "outputArtifactKey") for s in o.get("artifactSelectors") or []
            )
            arts[oname] = DagOutput(oname, sels, oneof=len(sels) > 1)
        return Dag(tasks, params, arts)

    def selector(self, raw: dict[str, Any], key: str) -> OutputSelector:
        return OutputSelector(str(raw.get("producerSubtask", "")), str(raw.get(key, "")))

    def task(self, key: str, raw: Any, where: str) -> Task:
        where = f"{where}: task {key!r}"
        if not isinstance(raw, dict) or not (raw.get("componentRef") or {}).get("name"):
            raise self.fail(where, "has no componentRef")
        inputs = raw.get("inputs") or {}
        trigger = raw.get("triggerPolicy") or {}
        strategy = trigger.get("strategy") or "ALL_UPSTREAM_TASKS_SUCCEEDED"
        if strategy == "TRIGGER_STRATEGY_UNSPECIFIED":
            strategy = "ALL_UPSTREAM_TASKS_SUCCEEDED"
        caching = raw.get("cachingOptions") or {}
        return Task(
            key=key,
            display_name=str((raw.get("taskInfo") or {}).get("name") or key),
            component=raw["componentRef"]["name"],
            parameters={
                n: self.parameter_input(n, b)
                for n, b in _mapping(inputs, "parameters", where).items()
            },
            artifacts={
                n: self.artifact_input(n, b)
                for n, b in _mapping(inputs, "artifacts", where).items()
            },
            dependent_tasks=tuple(raw.get("dependentTasks") or ()),
            condition=trigger.get("condition") or None,
            strategy=str(strategy),
            parameter_iterator=self.parameter_iterator(raw.get("parameterIterator"), where),
            artifact_iterator=self.artifact_iterator(raw.get("artifactIterator"), where),
            parallelism_limit=int((raw.get("iteratorPolicy") or {}).get("parallelismLimit", 0)),
            caching=CachingOptions(
                bool(caching.get("enableCache", False)), caching.get("cacheKey") or None
            ),
            retry=self.retry(raw.get("retryPolicy"), where),
            unknown_fields=tuple(sorted(k for k in raw if k not in _TASK_FIELDS and raw[k])),
        )

    def parameter_input(self, name: str, raw: Any) -> ParameterInput:
        source: ParentInput | TaskOutput | Constant | TaskFinalStatus | UnknownSource
        if not isinstance(raw, dict):
            return ParameterInput(name, UnknownSource((type(raw).__name__,)))
        runtime = raw.get("runtimeValue") or {}
        if "componentInputParameter" in raw:
            source = ParentInput(raw["componentInputParameter"])
        elif "taskOutputParameter" in raw:
            out = raw["taskOutputParameter"]
            source = TaskOutput(out.get("producerTask", ""), out.get("outputParameterKey", ""))
        elif "taskFinalStatus" in raw:
            source = TaskFinalStatus((raw["taskFinalStatus"] or {}).get("producerTask", ""))
        elif "constant" in runtime:
            source = Constant(runtime["constant"])
        elif "constantValue" in runtime:  # deprecated Value{intValue|doubleValue|stringValue}
            value = runtime["constantValue"] or {}
            source = Constant(
                int(value["intValue"]) if "intValue" in value else next(iter(value.values()), None)
            )
        elif "runtimeParameter" in runtime:
            source = ParentInput(runtime["runtimeParameter"])
        else:
            source = UnknownSource(tuple(sorted(raw)))
        text = raw.get("parameterExpressionSelector") or None
        return ParameterInput(
            name, source, selector=_parse_selector(text) if text else None, selector_text=text
        )

    def artifact_input(self, name: str, raw: Any) -> ArtifactInput:
        source: ParentInput | TaskOutput | UnknownSource
        if not isinstance(raw, dict):
            return ArtifactInput(name, UnknownSource((type(raw).__name__,)))
        if "componentInputArtifact" in raw:
            source = ParentInput(raw["componentInputArtifact"])
        elif "taskOutputArtifact" in raw:
            out = raw["taskOutputArtifact"]
            source = TaskOutput(out.get("producerTask", ""), out.get("outputArtifactKey", ""))
        else:
            source = UnknownSource(tuple(sorted(raw)))
        return ArtifactInput(name, source)

    def parameter_iterator(self, raw: Any, where: str) -> ParameterIterator | None:
        if not raw:
            return None
        items = raw.get("items") or {}
        if "raw" in items:
            try:
                parsed = json.loads(items["raw"])
            except (TypeError, ValueError):
                raise self.fail(where, f"loop items {items['raw']!r} are not JSON")
            if not isinstance(parsed, list):
                raise self.fail(where, f"loop items {items['raw']!r} are not a JSON list")
            return ParameterIterator(str(raw.get("itemInput", "")), parsed, raw=items["raw"])
        return ParameterIterator(
            str(raw.get("itemInput", "")), input_parameter=items.get("inputParameter")
        )

    def artifact_iterator(self, raw: Any, where: str) -> ArtifactIterator | None:
        if not raw:
            return None
        items = raw.get("items") or {}
        return ArtifactIterator(str(raw.get("itemInput", "")), str(items.get("inputArtifact", "")))

    def retry(self, raw: Any, where: str) -> RetryPolicy | None:
        if not raw:
            return None
        where = f"{where}: retryPolicy"
        maximum = parse_duration(raw.get("backoffMaxDuration", "3600s"), where=where)
        return RetryPolicy(
            max_retry_count=int(raw.get("maxRetryCount", 0)),
            backoff_duration=parse_duration(raw.get("backoffDuration", "0s"), where=where),
            backoff_factor=float(raw.get("backoffFactor") or 2.0),
            backoff_max_duration=min(maximum, MAX_BACKOFF_S) if maximum > 0 else MAX_BACKOFF_S,
        )

    def executor(self, label: str, raw: Any) -> Executor:
        where = f"executor {label!r}"
        if not isinstance(raw, dict) or len(raw) != 1:
            kinds = sorted(raw) if isinstance(raw, dict) else []
            raise self.fail(where, f"needs exactly one executor kind, got {kinds}")
        kind, body = next(iter(raw.items()))
        body = body or {}
        if kind == "container":
            return Executor(label, kind, container=self.container(body))
        if kind == "importer":
            return Executor(label, kind, importer=self.importer(body, where))
        return Executor(label, kind)

    def container(self, raw: dict[str, Any]) -> ContainerSpec:
        res = raw.get("resources") or {}
        acc = res.get("accelerator") or {}
        return ContainerSpec(
            image=str(raw.get("image", "")),
            command=tuple(str(c) for c in raw.get("command") or ()),
            args=tuple(str(a) for a in raw.get("args") or ()),
            env={str(e["name"]): str(e.get("value", "")) for e in raw.get("env") or ()},
            resources=Resources(
                cpu_limit=_quantity(res, "resourceCpuLimit", "cpuLimit", ""),
                cpu_request=_quantity(res, "resourceCpuRequest", "cpuRequest", ""),
                memory_limit=_quantity(res, "resourceMemoryLimit", "memoryLimit", "G"),
                memory_request=_quantity(res, "resourceMemoryRequest", "memoryRequest", "G"),
                accelerator_type=acc.get("resourceType") or acc.get("type") or None,
                accelerator_count=_quantity(acc, "resourceCount", "count", ""),
            ),
            unknown_fields=tuple(sorted(k for k in raw if k not in _CONTAINER_FIELDS and raw[k])),
        )

    def importer(self, raw: dict[str, Any], where: str) -> ImporterSpec:
        uri = raw.get("artifactUri") or {}
        source: Constant | ParentInput
        if "constant" in uri:
            source = Constant(uri["constant"])
        elif "runtimeParameter" in uri:
            source = ParentInput(uri["runtimeParameter"])
        else:
            raise self.fail(where, "importer has no artifactUri")
        schema = raw.get("typeSchema") or {}
        return ImporterSpec(
            artifact_uri=source,
            schema_title=schema.get("schemaTitle") or "<instanceSchema>",
            schema_version=schema.get("schemaVersion"),
            metadata=dict(raw.get("metadata") or {}),
            reimport=bool(raw.get("reimport", False)),
            download_to_workspace=bool(raw.get("downloadToWorkspace", False)),
            unknown_fields=tuple(sorted(k for k in raw if k not in _IMPORTER_FIELDS and raw[k])),
        )


def _quantity(raw: Mapping[str, Any], key: str, legacy: str, unit: str) -> str | None:
    """A resource quantity; the deprecated float fields (memory in GB) as a fallback."""
    value = raw.get(key)
    if value not in (None, ""):
        return str(value)
    old = raw.get(legacy)
    if old in (None, "", 0, 0.0):
        return None
    if isinstance(old, float) and math.isfinite(old) and old.is_integer():
        old = int(old)
    return f"{old}{unit}"


# ---- linking: references, normalised constants and items, unresolvable bindings -----------


def _link(spec: PipelineSpec, origin: str) -> PipelineSpec:
    """Check every reference and normalise constants by the type of the input they feed."""
    for comp in (spec.root, *spec.components.values()):
        if comp.executor_label is not None and comp.executor_label not in spec.executors:
            raise InvalidInput(
                f"{origin}: component {comp.name!r} names executor {comp.executor_label!r}, "
                "which deploymentSpec does not define",
                hint="recompile it with kfp",
            )
        if comp.dag is not None:
            _link_dag(spec, comp, comp.dag, origin)
    return spec


def _link_dag(spec: PipelineSpec, owner: Component, dag: Dag, origin: str) -> None:
    def fail(what: str) -> InvalidInput:
        return InvalidInput(f"{origin}: component {owner.name!r}: {what}", hint="recompile it")

    for key, task in list(dag.tasks.items()):
        if task.component not in spec.components:
            raise fail(f"task {key!r} references unknown component {task.component!r}")
        callee = spec.components[task.component]
        for dep in sorted(task.upstream):
            if dep not in dag.tasks:
                raise fail(f"task {key!r} depends on {dep!r}, which is not in the same DAG")
        params = {n: _link_parameter(b, owner, callee, key) for n, b in task.parameters.items()}
        artifacts = {n: _link_artifact(b, owner) for n, b in task.artifacts.items()}
        iterator = task.parameter_iterator
        if iterator is not None and iterator.items is not None:
            item_spec = callee.inputs.parameters.get(iterator.item_input)
            where = f"loop item of task {key!r}"
            items = [
                normalise_value(item_spec.type, v, where=where)
                if item_spec
                else integral_floats_to_int(v)
                for v in iterator.items
            ]
            iterator = dataclasses.replace(iterator, items=items)
        dag.tasks[key] = dataclasses.replace(
            task, parameters=params, artifacts=artifacts, parameter_iterator=iterator
        )
    for out in (*dag.parameter_outputs.values(), *dag.artifact_outputs.values()):
        for sel in out.selectors:
            if sel.task not in dag.tasks:
                raise fail(f"output {out.name!r} selects unknown task {sel.task!r}")


def _link_parameter(
    binding: ParameterInput, owner: Component, callee: Component, task_key: str
) -> ParameterInput:
    source = binding.source
    if isinstance(source, ParentInput) and source.name not in owner.inputs.parameters:
        reason = f"{owner.name} has no input parameter {source.name!r}"
        return dataclasses.replace(binding, unresolvable=reason)
    if isinstance(source, Constant):
        declared = callee.inputs.parameters.get(binding.name)
        where = f"constant {binding.name!r} of task {task_key!r}"
        if declared is None:  # a helper input (f-string channel, resource placeholder)
            value = integral_floats_to_int(source.value)
        else:
            value = normalise_value(declared.type, source.value, where=where)
        return dataclasses.replace(binding, source=Constant(value))
    return binding


def _link_artifact(binding: ArtifactInput, owner: Component) -> ArtifactInput:
    source = binding.source
    if isinstance(source, ParentInput) and source.name not in owner.inputs.artifacts:
        reason = f"{owner.name} has no input artifact {source.name!r}"
        return dataclasses.replace(binding, unresolvable=reason)
    return binding
