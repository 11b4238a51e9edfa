"""Input resolution for the scheduler: pipeline arguments typed by the root's
`inputDefinitions`, the value scope of one DAG instance, and a task's inputs resolved from its
bindings (parent inputs, sibling outputs, constants, final statuses, selectors).

A scope holds the inputs of one DAG instance (the root, a condition branch, a loop iteration,
a nested pipeline). The compiler leaks `pipelinechannel--*` bindings that name inputs a DAG does
not declare; such names are looked up in the enclosing scopes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pmle.errors import InvalidInput
from pmle.pipelines.executor_input import ArtifactRef
from pmle.pipelines.ir import (
    Constant,
    Interface,
    ParameterInput,
    ParentInput,
    PipelineSpec,
    Task,
    TaskFinalStatus,
    TaskOutput,
    normalise_value,
)

__all__ = ["Missing", "Scope", "SiblingResult", "parse_arguments", "resolve_inputs"]

Artifacts = list[ArtifactRef]


class _MissingType:
    def __repr__(self) -> str:
        return "MISSING"


Missing = _MissingType()


@dataclass
class SiblingResult:
    """What a finished sibling task exposes to its downstream tasks."""

    state: str  # SUCCEEDED / FAILED / SKIPPED
    display_name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Artifacts] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Scope:
    """The inputs of one DAG instance, with the scope it runs in."""

    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Artifacts] = field(default_factory=dict)
    parent: Scope | None = None

    def parameter(self, name: str) -> Any:
        """The parameter `name` here or, failing that, in an enclosing scope; else Missing."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.parameters:
                return scope.parameters[name]
            scope = scope.parent
        return Missing

    def artifact(self, name: str) -> Artifacts | None:
        """The artifacts `name` here or in an enclosing scope; else None."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.artifacts:
                return scope.artifacts[name]
            scope = scope.parent
        return None


def parse_arguments(spec: PipelineSpec, arguments: Mapping[str, Any]) -> Scope:
    """The root scope: `arguments` typed by the pipeline's inputDefinitions, defaults filled
    in. An unknown name, a wrong type or a missing required input is InvalidInput."""
    inputs: Interface = spec.inputs
    unknown = sorted(set(arguments) - set(inputs.parameters) - set(inputs.artifacts))
    if unknown:
        raise InvalidInput(
            f"pipeline {spec.name!r} has no inputs {unknown}",
            hint=f"its inputs are {sorted(inputs.parameters) + sorted(inputs.artifacts)}",
        )
    scope = Scope()
    for name, pspec in inputs.parameters.items():
        where = f"pipeline input {name!r}"
        if name in arguments and arguments[name] is not None:
            _check_type(pspec.type, arguments[name], where)
            scope.parameters[name] = normalise_value(pspec.type, arguments[name], where=where)
        elif pspec.has_default:
            scope.parameters[name] = pspec.default
        elif not pspec.optional:
            raise InvalidInput(f"{where} ({pspec.type}) is required", hint="pass it")
    for name, aspec in inputs.artifacts.items():
        given = arguments.get(name)
        if given is None:
            if not aspec.optional:
                raise InvalidInput(f"pipeline input artifact {name!r} is required")
            continue
        refs = [given] if isinstance(given, ArtifactRef) else list(given)
        if not all(isinstance(r, ArtifactRef) for r in refs):
            raise InvalidInput(f"pipeline input artifact {name!r} must be ArtifactRef values")
        scope.artifacts[name] = refs
    return scope


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "NUMBER_INTEGER": (int, float),
    "NUMBER_DOUBLE": (int, float),
    "STRING": (str,),
    "BOOLEAN": (bool,),
    "LIST": (list, tuple),
    "STRUCT": (dict,),
}
_TYPE_NAMES = {
    "NUMBER_INTEGER": "an integer",
    "NUMBER_DOUBLE": "a number",
    "STRING": "a string",
    "BOOLEAN": "a boolean",
    "LIST": "a list",
    "STRUCT": "a dict",
}


def _check_type(parameter_type: str, value: Any, where: str) -> None:
    """A pipeline argument of the wrong Python type is InvalidInput (normalise_value lets
    strings through for placeholders; an argument is never a placeholder)."""
    expected = _PYTHON_TYPES.get(parameter_type)
    if expected is None:
        return
    wrong_bool = isinstance(value, bool) and parameter_type != "BOOLEAN"
    if wrong_bool or not isinstance(value, expected):
        raise InvalidInput(
            f"{where} must be {_TYPE_NAMES[parameter_type]}, got {value!r}",
            hint=f"pass a value of type {parameter_type}",
        )


def final_status(sibling: SiblingResult, run_name: str) -> dict[str, Any]:
    """The PipelineTaskFinalStatus JSON of a finished task."""
    failed = sibling.state == "FAILED"
    return {
        "state": "FAILED" if failed else sibling.state,
        "pipelineJobResourceName": run_name,
        "pipelineTaskName": sibling.display_name,
        "error": {"code": 1 if failed else 0, "message": (sibling.error or "") if failed else ""},
    }


def _select(value: Any, binding: ParameterInput) -> Any:
    if binding.selector is None:
        if binding.selector_text:
            raise InvalidInput(f"input {binding.name!r}: selector {binding.selector_text!r}")
        return value
    if isinstance(value, str):
        value = json.loads(value)
    for step in binding.selector:
        value = value[step]
    return value


def resolve_inputs(
    task: Task,
    scope: Scope,
    siblings: Mapping[str, SiblingResult],
    run_name: str,
) -> tuple[dict[str, Any], dict[str, Artifacts]]:
    """(parameters, artifacts) of `task`; inputs with no value are left out."""
    params: dict[str, Any] = {}
    for name, binding in task.parameters.items():
        source = binding.source
        value: Any = Missing
        if isinstance(source, ParentInput):
            value = scope.parameter(source.name)
            if value is Missing and binding.unresolvable is None:
                continue  # an optional DAG input without value
        elif isinstance(source, TaskOutput):
            sib = siblings.get(source.task)
            if sib is not None:
                value = sib.parameters.get(source.output, Missing)
        elif isinstance(source, Constant):
            value = source.value
        elif isinstance(source, TaskFinalStatus):
            sib = siblings.get(source.task)
            if sib is not None:
                value = final_status(sib, run_name)
        if value is Missing:
            continue
        params[name] = _select(value, binding)
    artifacts: dict[str, Artifacts] = {}
    for name, abinding in task.artifacts.items():
        asource = abinding.source
        refs: Artifacts | None = None
        if isinstance(asource, ParentInput):
            refs = scope.artifact(asource.name)
        elif isinstance(asource, TaskOutput):
            sib = siblings.get(asource.task)
            if sib is not None:
                refs = sib.artifacts.get(asource.output)
        if refs is not None:
            artifacts[name] = refs
    return params, artifacts
