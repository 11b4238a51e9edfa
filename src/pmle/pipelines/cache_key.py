"""The cache key of a task, as Vertex AI Pipelines and the Kubeflow backend compute it.

The key is the SHA-256 of a canonical JSON document holding what determines a task's outputs:

- `containerSpec`: the image, the *unresolved* command and args, the environment;
- `inputParameterValues`: the resolved input parameter values (after the integer
  normalisation of the IR, so `5` and `5.0` meet);
- `inputArtifactNames`: the ids of the input artifacts (what they are, not where);
- `outputArtifactsSpec` / `outputParametersSpec`: the output names and types.

Component names are not part of it, so two call sites of one component share hits. A task's
`cachingOptions.cacheKey` replaces the computed key. Lookups are scoped by the pipeline's name
(only runs of the same pipeline share a cache); tasks with caching off have no key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    from pmle.pipelines.ir import Component, Executor, Task


def fingerprint(
    task: Task,
    component: Component,
    executor: Executor,
    parameter_values: Mapping[str, Any],
    input_artifact_ids: Mapping[str, Sequence[str]],
) -> str | None:
    """The task's cache fingerprint (64 hex digits), or None when it is not cached: caching
    off for the task, or an executor that is not a container (importers are always rerun)."""
    if not task.caching.enable_cache or executor.container is None:
        return None
    if task.caching.cache_key:
        return _sha256({"cacheKey": task.caching.cache_key})
    container = executor.container
    document = {
        "containerSpec": {
            "image": container.image,
            "cmdArgs": [*container.command, *container.args],
            "env": sorted(container.env.items()),
        },
        "inputParameterValues": {
            name: _canonical(value, name)
            for name, value in sorted(parameter_values.items())
            if name in component.inputs.parameters
        },
        "inputArtifactNames": {name: list(ids) for name, ids in sorted(input_artifact_ids.items())},
        "outputArtifactsSpec": {
            name: {"type": a.schema_title, "isList": a.is_list}
            for name, a in sorted(component.outputs.artifacts.items())
        },
        "outputParametersSpec": {
            name: p.type for name, p in sorted(component.outputs.parameters.items())
        },
    }
    return _sha256(document)


def _sha256(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: Any, name: str) -> Any:
    """A parameter value as JSON sees it: integral floats become ints (the IR writes integers
    as floats), NaN and infinities are refused (JSON has none)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidInput(f"parameter {name!r} is {value!r}: not a JSON value")
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _canonical(v, name) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v, name) for v in value]
    raise InvalidInput(f"parameter {name!r} holds a {type(value).__name__}, not a JSON value")
