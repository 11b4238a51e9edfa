"""The ExecutorInput of one task: the JSON document KFP hands a component (`{{$}}`).

It holds the task's resolved input parameters and artifacts, and where the component must put
its outputs. Output locations are local paths under the task's output folder:

    <output_dir>/artifacts/<name>         each output artifact (a file or a folder; the component
                                          writes it: `open(out.path, "w")`, `os.makedirs(out.path)`)
    <output_dir>/parameters/<name>        each output parameter's `outputFile` (`OutputPath(int)`)
    <output_dir>/executor_output.json     `outputs.outputFile`, written by kfp's Executor

Artifact URIs in the document are plain absolute paths, as kfp.local writes them: kfp's
`Artifact.path` uses any URI that is not `gs://`, `s3://` or `minio://` verbatim, so a
`file:///x` URI would give the unusable path `file:///x`. :func:`local_path` turns
`file://` URIs into paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from pmle.errors import InvalidInput
from pmle.pipelines.ir import Component, Executor, normalise_value

if TYPE_CHECKING:
    from pmle.pipelines.placeholders import RunContext

__all__ = [
    "EXECUTOR_OUTPUT_FILE",
    "ArtifactRef",
    "build_executor_input",
    "local_path",
    "output_dir_of",
]

EXECUTOR_OUTPUT_FILE = "executor_output.json"
_DEFAULT_SCHEMA_VERSION = "0.0.1"


def local_path(uri: str) -> str:
    """The local path of an artifact URI: `file:///x` → `/x`, a relative path made absolute;
    any other scheme (`gs://`, `s3://`) is returned unchanged."""
    if uri.startswith("file:"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInput(f"artifact URI {uri!r} names a remote host", hint="use file:///path")
        return unquote(parsed.path)
    if "://" in uri:
        return uri
    return str(Path(uri).absolute()) if uri else uri


@dataclass(frozen=True)
class ArtifactRef:
    """An artifact as a task sees it: its name, URI, metadata and type (`system.Dataset`)."""

    name: str
    uri: str
    metadata: dict[str, Any] = field(default_factory=dict)
    schema_title: str = "system.Artifact"
    schema_version: str = _DEFAULT_SCHEMA_VERSION

    @property
    def path(self) -> str:
        """The local path (`file://` stripped); a remote URI is returned unchanged."""
        return local_path(self.uri)

    def to_runtime(self) -> dict[str, Any]:
        """The RuntimeArtifact JSON of the ExecutorInput (uri as a local path)."""
        return {
            "name": self.name,
            "uri": self.path,
            "metadata": dict(self.metadata),
            "type": {"schemaTitle": self.schema_title, "schemaVersion": self.schema_version},
        }


def build_executor_input(
    component: Component,
    executor: Executor | None,
    parameter_values: Mapping[str, Any],
    input_artifacts: Mapping[str, Sequence[ArtifactRef] | ArtifactRef],
    output_dir: str | Path,
    *,
    context: RunContext | None = None,
) -> dict[str, Any]:
    """The ExecutorInput JSON (a dict) of a leaf task.

    `parameter_values` are the task's resolved inputs by name; values of declared inputs are
    typed by `inputDefinitions` (ints for NUMBER_INTEGER, floats for NUMBER_DOUBLE, integral
    floats inside LIST / STRUCT as ints). Extra names (the `pipelinechannel--*` inputs kfp adds
    for f-strings) are passed on as given; the Executor ignores names the function lacks. A
    missing input takes its default; an optional one without a default, or a value of None, is
    left out (the function's own default applies). `{{$...}}` placeholders inside string values
    (f-strings, `dsl.PIPELINE_JOB_NAME_PLACEHOLDER`) are resolved against the other values
    and `context`. A missing required input is InvalidInput.

    `input_artifacts` maps an input name to its artifacts (a list for `Input[List[...]]`).
    `output_dir` is the task's own folder (use a fresh one per attempt); see the module
    docstring for the layout. `executor` is accepted for symmetry with the runners and unused.
    """
    del executor  # the layout does not depend on the executor kind
    out = Path(output_dir).absolute()
    where = f"component {component.name!r}"

    params: dict[str, Any] = {}
    for name, spec in component.inputs.parameters.items():
        if name in parameter_values and parameter_values[name] is not None:
            params[name] = parameter_values[name]
        elif spec.has_default and spec.default is not None:
            params[name] = spec.default
        elif not spec.optional and not spec.has_default:
            raise InvalidInput(
                f"{where}: input parameter {name!r} has no value",
                hint="pass it, or give the component input a default",
            )
    for name, value in parameter_values.items():
        declared = name in component.inputs.parameters or name in component.inputs.artifacts
        if not declared and value is not None:
            params[name] = value
    if any(isinstance(v, str) and "{{$" in v for v in params.values()):
        from pmle.pipelines.placeholders import resolve_parameter_placeholders

        params = resolve_parameter_placeholders(params, context)
    for name, spec in component.inputs.parameters.items():
        if name in params:
            params[name] = normalise_value(
                spec.type, params[name], where=f"{where} input parameter {name!r}"
            )

    artifacts: dict[str, Any] = {}
    for name, aspec in component.inputs.artifacts.items():
        given = input_artifacts.get(name)
        refs = [given] if isinstance(given, ArtifactRef) else list(given or ())
        if not refs:
            if aspec.optional:
                continue
            raise InvalidInput(f"{where}: input artifact {name!r} has no value")
        if len(refs) > 1 and not aspec.is_list:
            raise InvalidInput(
                f"{where}: input artifact {name!r} takes one artifact, got {len(refs)}",
                hint="declare it Input[List[...]] to take a list",
            )
        artifacts[name] = {"artifacts": [ref.to_runtime() for ref in refs]}
    unknown = sorted(set(input_artifacts) - set(component.inputs.artifacts))
    if unknown:
        raise InvalidInput(f"{where} has no input artifacts {unknown}")

    output_parameters = {
        name: {"outputFile": str(out / "parameters" / name)}
        for name in component.outputs.parameters
    }
    output_artifacts = {
        name: {
            "artifacts": [
                {
                    "name": name,
                    "uri": str(out / "artifacts" / name),
                    "metadata": {},
                    "type": {
                        "schemaTitle": aspec.schema_title,
                        "schemaVersion": aspec.schema_version or _DEFAULT_SCHEMA_VERSION,
                    },
                }
            ]
        }
        for name, aspec in component.outputs.artifacts.items()
    }
    inputs: dict[str, Any] = {"parameterValues": params}
    if artifacts:
        inputs["artifacts"] = artifacts
    outputs: dict[str, Any] = {"outputFile": str(out / EXECUTOR_OUTPUT_FILE)}
    if output_parameters:
        outputs["parameters"] = output_parameters
    if output_artifacts:
        outputs["artifacts"] = output_artifacts
    return {"inputs": inputs, "outputs": outputs}


def output_dir_of(executor_input: Mapping[str, Any]) -> Path:
    """The task's output folder: the folder of `outputs.outputFile`."""
    return Path(executor_input["outputs"]["outputFile"]).parent
