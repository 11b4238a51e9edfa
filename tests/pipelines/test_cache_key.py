"""Cache keys: what changes them, what does not (Vertex's definition)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pmle.errors import InvalidInput
from pmle.pipelines.cache_key import fingerprint
from pmle.pipelines.ir import (
    CachingOptions,
    Component,
    Executor,
    PipelineSpec,
    Task,
    load_pipeline,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "pipelines" / "examples"


@pytest.fixture(scope="module")
def linear() -> PipelineSpec:
    return load_pipeline(EXAMPLES / "p4_linear.yaml")


def _first(spec: PipelineSpec) -> tuple[Task, Component, Executor]:
    task = next(iter(spec.dag.tasks.values()))
    component = spec.component(task.component)
    return task, component, spec.executor(component)


def _cached(task: Task, key: str | None = None) -> Task:
    return dataclasses.replace(task, caching=CachingOptions(enable_cache=True, cache_key=key))


def test_same_inputs_same_key_and_each_input_matters(linear: PipelineSpec) -> None:
    task, component, executor = _first(linear)
    task = _cached(task)
    name = next(iter(component.inputs.parameters))
    key = fingerprint(task, component, executor, {name: 1}, {})
    assert key is not None and len(key) == 64
    assert fingerprint(task, component, executor, {name: 1.0}, {}) == key
    assert fingerprint(task, component, executor, {name: 2}, {}) != key
    other = fingerprint(task, component, executor, {name: 1}, {"data": ["7"]})
    assert other != key
    # an input the component does not declare (a compiler leak) does not count
    leaked = {name: 1, "pipelinechannel--x": 3}
    assert fingerprint(task, component, executor, leaked, {}) == key


def test_the_command_and_env_are_part_of_the_key(linear: PipelineSpec) -> None:
    task, component, executor = _first(linear)
    task = _cached(task)
    name = next(iter(component.inputs.parameters))
    key = fingerprint(task, component, executor, {name: 1}, {})
    container = executor.container
    assert container is not None
    changed = dataclasses.replace(
        executor,
        container=dataclasses.replace(container, env={"MODE": "fast"}),
    )
    assert fingerprint(task, component, changed, {name: 1}, {}) != key
    edited = dataclasses.replace(
        executor,
        container=dataclasses.replace(container, args=(*container.args, "--x")),
    )
    assert fingerprint(task, component, edited, {name: 1}, {}) != key


def test_caching_off_custom_keys_and_bad_values(linear: PipelineSpec) -> None:
    task, component, executor = _first(linear)
    off = dataclasses.replace(task, caching=CachingOptions(enable_cache=False))
    assert fingerprint(off, component, executor, {}, {}) is None
    custom = _cached(task, "v1")
    a = fingerprint(custom, component, executor, {"x": 1}, {})
    b = fingerprint(custom, component, executor, {"x": 2}, {})
    assert a == b  # the custom key replaces everything
    name = next(iter(component.inputs.parameters))
    with pytest.raises(InvalidInput, match="not a JSON value"):
        fingerprint(_cached(task), component, executor, {name: float("nan")}, {})
