"""A compiled Kubeflow Pipelines v2 pipeline (the IR YAML kfp's compiler writes), read into
small typed dataclasses, with the compiler's known quirks normalised.

The IR is read with PyYAML: kfp is not needed (`yaml.safe_load` gives the same dict as
`json_format.MessageToDict(pipeline_spec)`). Normalisations applied while loading:

* protobuf `Value` numbers are doubles, so kfp writes `n: 5.0` for an int default and
  `[1.0, 2.0]` for a `List[int]`. Defaults and constants of NUMBER_INTEGER inputs become ints,
  integral floats anywhere inside LIST / STRUCT values become ints (as Go's protojson does on
  the real backend), NUMBER_DOUBLE values become floats.
* A task input that reads a parent input its DAG does not declare (the compiler leaks such
  bindings for loop-item sub-variables and nested loops) is kept with `unresolvable` set to
  the reason; loading does not fail. A runner leaves it out, or looks the name up in an
  enclosing scope (p5's nested-loop f-string needs that).
* `cachingOptions` missing or `{}` means caching is off; retry durations become seconds.

Validation is in two steps: loading rejects a malformed document (dangling references, wrong
shapes), and :func:`pmle.pipelines.support.check_supported` rejects features pmle does not run.
Reading itself lives in :mod:`pmle.pipelines.ir_reader`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pmle.errors import InvalidInput, NotFound

__all__ = [
    "MAX_BACKOFF_S",
    "PARAMETER_TYPES",
    "ArtifactInput",
    "ArtifactIterator",
    "ArtifactSpec",
    "CachingOptions",
    "Component",
    "Constant",
    "ContainerSpec",
    "Dag",
    "DagOutput",
    "Executor",
    "ImporterSpec",
    "Interface",
    "OutputSelector",
    "ParameterInput",
    "ParameterIterator",
    "ParameterSpec",
    "ParentInput",
    "PipelineSpec",
    "Resources",
    "RetryPolicy",
    "Task",
    "TaskFinalStatus",
    "TaskOutput",
    "UnknownSource",
    "integral_floats_to_int",
    "load_pipeline",
    "normalise_value",
    "parse_duration",
    "parse_pipeline",
    "topological_order",
]

PARAMETER_TYPES = frozenset(
    {
        "NUMBER_INTEGER",
        "NUMBER_DOUBLE",
        "STRING",
        "BOOLEAN",
        "LIST",
        "STRUCT",
        "TASK_FINAL_STATUS",
        "TASK_CONFIG",
    }
)
_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_BACKOFF_S = 3600.0  # the backend caps backoffMaxDuration at one hour


# ---- values --------------------------------------------------------------------------------


def integral_floats_to_int(value: Any) -> Any:
    """`value` with every integral float, at any depth of lists and dicts, made an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list | tuple):
        return [integral_floats_to_int(v) for v in value]
    if isinstance(value, dict):
        return {k: integral_floats_to_int(v) for k, v in value.items()}
    return value


def normalise_value(parameter_type: str, value: Any, *, where: str = "value") -> Any:
    """A parameter value as the component expects it: ints for NUMBER_INTEGER (kfp writes
    `5.0`), floats for NUMBER_DOUBLE, integral floats inside LIST / STRUCT as ints.

    Strings are left alone for every type (they may be `{{$...}}` placeholders)."""
    if value is None or isinstance(value, str):
        return value
    if parameter_type == "NUMBER_INTEGER":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{where} must be an integer, got {value!r}")
        if isinstance(value, float):
            if not value.is_integer():
                raise InvalidInput(f"{where} must be an integer, got {value!r}")
            return int(value)
        return value
    if parameter_type == "NUMBER_DOUBLE":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{where} must be a number, got {value!r}")
        return float(value)
    if parameter_type in ("LIST", "STRUCT"):
        return integral_floats_to_int(value)
    return value


def parse_duration(text: Any, *, where: str = "duration") -> float:
    """Seconds in a protobuf / Go duration string (`5s`, `0.5s`, `1m30s`, `3600s`)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"{where} {text!r} is not a duration", hint="write e.g. '5s' or '1m'")
    raw, pos, total = text.strip(), 0, 0.0
    while pos < len(raw):
        match = _DURATION_RE.match(raw, pos)
        if match is None:
            raise InvalidInput(f"{where} {text!r} is not a duration", hint="write e.g. '5s'")
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return total


# ---- definitions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterSpec:
    """An input or output parameter of a component (`parameterType`, default, optional)."""

    name: str
    type: str
    default: Any = None
    has_default: bool = False
    optional: bool = False
    description: str | None = None


@dataclass(frozen=True)
class ArtifactSpec:
    """An input or output artifact of a component (`artifactType.schemaTitle`, list, optional)."""

    name: str
    schema_title: str
    schema_version: str | None = None
    is_list: bool = False
    optional: bool = False
    description: str | None = None


@dataclass(frozen=True)
class Interface:
    """`inputDefinitions` or `outputDefinitions`: parameters and artifacts by name."""

    parameters: dict[str, ParameterSpec] = field(default_factory=dict)
    artifacts: dict[str, ArtifactSpec] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.parameters or name in self.artifacts


# ---- task inputs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParentInput:
    """`componentInputParameter` / `componentInputArtifact` (or `runtimeValue.runtimeParameter`):
    an input of the enclosing DAG."""

    name: str


@dataclass(frozen=True)
class TaskOutput:
    """`taskOutputParameter` / `taskOutputArtifact`: an output of a sibling task."""

    task: str
    output: str


@dataclass(frozen=True)
class Constant:
    """`runtimeValue.constant`, normalised to the receiving input's type."""

    value: Any


@dataclass(frozen=True)
class TaskFinalStatus:
    """`taskFinalStatus`: the final status of a sibling task (an exit handler's group)."""

    task: str


@dataclass(frozen=True)
class UnknownSource:
    """A binding kind pmle does not know; `check_supported` reports it."""

    kinds: tuple[str, ...]


@dataclass(frozen=True)
class ParameterInput:
    """One `inputs.parameters[name]` binding of a task."""

    name: str
    source: ParentInput | TaskOutput | Constant | TaskFinalStatus | UnknownSource
    selector: tuple[str | int, ...] | None = None  # parsed parameterExpressionSelector
    selector_text: str | None = None
    unresolvable: str | None = None  # why a compiler-leaked binding cannot be resolved


@dataclass(frozen=True)
class ArtifactInput:
    """One `inputs.artifacts[name]` binding of a task."""

    name: str
    source: ParentInput | TaskOutput | UnknownSource
    unresolvable: str | None = None


# ---- tasks and DAGs ------------------------------------------------------------------------


@dataclass(frozen=True)
class CachingOptions:
    """`cachingOptions`: absent or `{}` means caching is off; `cache_key` replaces the key."""

    enable_cache: bool = False
    cache_key: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """`retryPolicy`, durations in seconds (backoffMaxDuration capped at one hour)."""

    max_retry_count: int
    backoff_duration: float = 0.0
    backoff_factor: float = 2.0
    backoff_max_duration: float = MAX_BACKOFF_S

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1 = the first retry):
        backoff_duration · backoff_factor^(retry-1), capped at backoff_max_duration. (Argo, under
        the Kubeflow backend, reads maxDuration as the whole retry window instead; the cap is the
        reading the pmle notes chose.)"""
        delay = self.backoff_duration * self.backoff_factor ** max(retry - 1, 0)
        return min(delay, self.backoff_max_duration)


@dataclass(frozen=True)
class ParameterIterator:
    """`parameterIterator` of a `dsl.ParallelFor`: static `items` or an input parameter."""

    item_input: str
    items: list[Any] | None = None  # the parsed `items.raw` JSON list, normalised
    raw: str | None = None
    input_parameter: str | None = None


@dataclass(frozen=True)
class ArtifactIterator:
    """`artifactIterator`: a `dsl.ParallelFor` over a list of artifacts."""

    item_input: str
    input_artifact: str


@dataclass(frozen=True)
class Task:
    """A `dag.tasks[key]` entry. `key` names it in its DAG; `display_name` is `taskInfo.name`."""

    key: str
    display_name: str
    component: str
    parameters: dict[str, ParameterInput] = field(default_factory=dict)
    artifacts: dict[str, ArtifactInput] = field(default_factory=dict)
    dependent_tasks: tuple[str, ...] = ()
    condition: str | None = None
    strategy: str = "ALL_UPSTREAM_TASKS_SUCCEEDED"
    parameter_iterator: ParameterIterator | None = None
    artifact_iterator: ArtifactIterator | None = None
    parallelism_limit: int = 0  # 0 = unlimited
    caching: CachingOptions = CachingOptions()
    retry: RetryPolicy | None = None
    unknown_fields: tuple[str, ...] = ()

    @property
    def upstream(self) -> frozenset[str]:
        """Sibling tasks this one waits for: `dependentTasks` plus every data producer."""
        names = set(self.dependent_tasks)
        sources = [b.source for b in self.parameters.values()]
        sources += [b.source for b in self.artifacts.values()]
        for source in sources:
            if isinstance(source, TaskOutput | TaskFinalStatus):
                names.add(source.task)
        return frozenset(names)

    @property
    def is_loop(self) -> bool:
        """Whether the task is a `dsl.ParallelFor` group."""
        return self.parameter_iterator is not None or self.artifact_iterator is not None


@dataclass(frozen=True)
class OutputSelector:
    """`producerSubtask` + `outputParameterKey` / `outputArtifactKey` of a DAG output."""

    task: str
    output: str


@dataclass(frozen=True)
class DagOutput:
    """A DAG output: one selector normally; several for `dsl.OneOf` (first branch that ran)."""

    name: str
    selectors: tuple[OutputSelector, ...]
    oneof: bool = False


@dataclass(frozen=True)
class Dag:
    """`dag`: tasks by key and the outputs the DAG exposes."""

    tasks: dict[str, Task] = field(default_factory=dict)
    parameter_outputs: dict[str, DagOutput] = field(default_factory=dict)
    artifact_outputs: dict[str, DagOutput] = field(default_factory=dict)


@dataclass(frozen=True)
class Component:
    """`components[name]` (or `root`): a DAG or a leaf bound to an executor."""

    name: str
    inputs: Interface = field(default_factory=Interface)
    outputs: Interface = field(default_factory=Interface)
    dag: Dag | None = None
    executor_label: str | None = None
    unknown_fields: tuple[str, ...] = ()


# ---- executors -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    """Container resources as Kubernetes quantity strings (maybe `{{$...}}` placeholders)."""

    cpu_limit: str | None = None
    cpu_request: str | None = None
    memory_limit: str | None = None
    memory_request: str | None = None
    accelerator_type: str | None = None
    accelerator_count: str | None = None


@dataclass(frozen=True)
class ContainerSpec:
    """`executors[label].container`: image, command, args (placeholders unresolved), env."""

    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    resources: Resources = Resources()
    unknown_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImporterSpec:
    """`executors[label].importer`: an artifact from a URI (a constant or a task input)."""

    artifact_uri: Constant | ParentInput
    schema_title: str
    schema_version: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    reimport: bool = False
    download_to_workspace: bool = False
    unknown_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Executor:
    """`deploymentSpec.executors[label]`: a container or an importer (`kind` says which);
    anything else keeps its kind name for `check_supported` to reject."""

    label: str
    kind: str  # "container", "importer", or the unsupported kind ("resolver", "customJob")
    container: ContainerSpec | None = None
    importer: ImporterSpec | None = None


@dataclass(frozen=True)
class PipelineSpec:
    """A compiled pipeline: `root` is its top-level DAG component."""

    name: str
    root: Component
    components: dict[str, Component]
    executors: dict[str, Executor]
    schema_version: str
    sdk_version: str | None = None
    description: str | None = None
    display_name: str | None = None
    default_pipeline_root: str | None = None
    platform_spec: dict[str, Any] = field(default_factory=dict)  # the second YAML document

    @property
    def inputs(self) -> Interface:
        """The pipeline's parameters and input artifacts (`root.inputDefinitions`)."""
        return self.root.inputs

    @property
    def outputs(self) -> Interface:
        """The pipeline's outputs (`root.outputDefinitions`)."""
        return self.root.outputs

    @property
    def dag(self) -> Dag:
        """The root DAG."""
        assert self.root.dag is not None  # checked when loading
        return self.root.dag

    def component(self, name: str) -> Component:
        """A component by its `componentRef.name`."""
        try:
            return self.components[name]
        except KeyError:
            raise NotFound(f"pipeline {self.name!r} has no component {name!r}")

    def executor(self, component: Component | str) -> Executor:
        """The executor of a leaf component."""
        comp = self.component(component) if isinstance(component, str) else component
        if comp.executor_label is None:
            raise InvalidInput(f"component {comp.name!r} is a DAG, it has no executor")
        return self.executors[comp.executor_label]


# ---- loading -------------------------------------------------------------------------------


def load_pipeline(source: str | os.PathLike[str] | Mapping[str, Any]) -> PipelineSpec:
    """Read a compiled pipeline from a `.yaml` / `.json` file, or from its dict."""
    from pmle.pipelines.ir_reader import read_pipeline

    if isinstance(source, Mapping):
        return read_pipeline(dict(source), {}, "<dict>")
    path = Path(source)
    if not path.is_file():
        raise NotFound(f"no pipeline file {str(path)!r}", hint="compile the pipeline with kfp")
    return parse_pipeline(path.read_text(encoding="utf-8"), origin=str(path))


def parse_pipeline(text: str, *, origin: str = "<text>") -> PipelineSpec:
    """Read a compiled pipeline from YAML / JSON text; a second YAML document, when present, is
    the platform spec (kfp-kubernetes) and lands in `platform_spec`."""
    import yaml  # lazy: only loading needs it

    from pmle.pipelines.ir_reader import read_pipeline

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ≈10x faster when built
    try:
        documents = [doc for doc in yaml.load_all(text, Loader=loader) if doc is not None]
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{origin} is not valid YAML: {exc}")
    if not documents or not isinstance(documents[0], dict):
        raise InvalidInput(f"{origin} holds no compiled pipeline", hint="compile it with kfp")
    platform = documents[1] if len(documents) > 1 else {}
    if not isinstance(platform, dict):
        raise InvalidInput(f"{origin}: the second YAML document is not a platform spec mapping")
    return read_pipeline(documents[0], platform, origin)


# ---- DAG order -----------------------------------------------------------------------------


def topological_order(dag: Dag) -> list[str]:
    """Task keys with every task after the tasks it waits for (`Task.upstream`: dependentTasks
    and data producers); ties broken by key, so the order is stable. A cycle is InvalidInput."""
    import heapq

    waiting = {key: set(task.upstream) for key, task in dag.tasks.items()}
    for key, deps in waiting.items():
        unknown = deps - waiting.keys()
        if unknown:
            raise InvalidInput(f"task {key!r} depends on unknown tasks {sorted(unknown)}")
    downstream: dict[str, list[str]] = {key: [] for key in waiting}
    for key, deps in waiting.items():
        for dep in deps:
            downstream[dep].append(key)
    ready = [key for key, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        key = heapq.heappop(ready)
        order.append(key)
        for child in downstream[key]:
            waiting[child].discard(key)
            if not waiting[child]:
                heapq.heappush(ready, child)
    if len(order) < len(waiting):
        stuck = sorted(set(waiting) - set(order))
        raise InvalidInput(
            f"tasks {stuck} depend on each other in a cycle",
            hint="remove one of the .after() calls or data dependencies that close the loop",
        )
    return order
