"""KFP v2 placeholders (`{{$...}}`, `{"Concat": ...}`, `{"IfPresent": ...}`) resolved against a
task's ExecutorInput and its run context.

| placeholder | value |
| --- | --- |
| `{{$}}` | the whole ExecutorInput as JSON |
| `{{$.inputs.parameters['x']}}` | a string raw, anything else as JSON (`5`, `true`, `[1, 2]`) |
| `{{$.inputs.artifacts['x'].path}}` / `.uri` | the local path (pmle's URIs are paths) |
| `{{$.inputs.artifacts['x'].metadata}}` / `.metadata['k']` | JSON / the value |
| `{{$.outputs.artifacts['y'].path}}` / `.uri` / `.metadata` | the same for an output |
| `{{$.outputs.parameters['p'].output_file}}` | the file the component writes `p` to |
| `{{$.outputs.output_file}}` (`{{$.outputMetadataUri}}`) | executor_output.json's path |
| `{{$.pipeline_job_name}}`, `{{$.pipeline_task_name}}`, ... | :class:`RunContext` |

`Concat` and `IfPresent` arrive as JSON strings among a container's `args`; `IfPresent`
expands to zero or more argv items ("present" = the input has a value). A placeholder naming
an input that has no value, or one pmle does not know, is InvalidInput: a command never runs
with a half-resolved argument. Numbers are written as Python's `json.dumps` writes them
(`5.0` for a float), as kfp.local does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pmle.errors import InvalidInput

__all__ = [
    "RunContext",
    "provided_inputs",
    "resolve_command",
    "resolve_json",
    "resolve_parameter_placeholders",
    "resolve_placeholders",
]

_PLACEHOLDER_RE = re.compile(r"\{\{\$(.*?)\}\}", re.S)
_IO_RE = re.compile(
    r"""\.(inputs|outputs)\.(parameters|artifacts)\[(?:'([^']*)'|"([^"]*)")\](.*)""", re.S
)
_META_KEY_RE = re.compile(r"""\.metadata\[(?:'([^']*)'|"([^"]*)")\]""", re.S)
_CONTEXT_NAMES = (
    "pipeline_job_name",
    "pipeline_job_resource_name",
    "pipeline_job_uuid",
    "pipeline_task_name",
    "pipeline_task_uuid",
    "pipeline_root",
    "pipeline_job_create_time_utc",
    "pipeline_job_schedule_time_utc",
    "workspace_path",
)


@dataclass(frozen=True)
class RunContext:
    """The run-level values of `dsl.PIPELINE_*_PLACEHOLDER`s for one task."""

    pipeline_job_name: str = ""
    pipeline_job_resource_name: str = ""
    pipeline_job_uuid: str = ""
    pipeline_task_name: str = ""
    pipeline_task_uuid: str = ""
    pipeline_root: str = ""
    pipeline_job_create_time_utc: str = ""
    pipeline_job_schedule_time_utc: str = ""
    workspace_path: str | None = None  # pipeline workspaces are not supported: None refuses


class _Unresolved(Exception):
    """A placeholder that cannot be resolved (the message says why)."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _context_value(name: str, context: RunContext | None) -> str:
    value = getattr(context or RunContext(), name)
    if value is None:
        raise _Unresolved(f"{{{{$.{name}}}}} needs a pipeline workspace, which pmle does not have")
    return str(value)


def _lookup(body: str, executor_input: Mapping[str, Any], context: RunContext | None) -> Any:
    """The value a placeholder body (the text between `{{$` and `}}`) stands for."""
    if body == "":
        return json.dumps(executor_input)
    if body in (".outputs.output_file", ".outputMetadataUri"):
        return executor_input["outputs"]["outputFile"]
    if body.startswith(".") and body[1:] in _CONTEXT_NAMES:
        return _context_value(body[1:], context)
    match = _IO_RE.fullmatch(body)
    if match is None:
        raise _Unresolved(f"unknown placeholder {{{{${body}}}}}")
    side, kind, name = match.group(1), match.group(2), match.group(3) or match.group(4) or ""
    rest = match.group(5)
    block = executor_input.get(side) or {}
    if kind == "parameters":
        if side == "inputs":
            values = block.get("parameterValues") or {}
            if rest or values.get(name) is None:
                raise _Unresolved(
                    f"input parameter {name!r} has no value"
                    if not rest
                    else f"unknown placeholder {{{{${body}}}}}"
                )
            return values[name]
        output = (block.get("parameters") or {}).get(name)
        if output is None or rest != ".output_file":
            raise _Unresolved(
                f"no output parameter {name!r}"
                if output is None
                else f"unknown placeholder {{{{${body}}}}}"
            )
        return output["outputFile"]
    entry = (block.get("artifacts") or {}).get(name)
    artifacts = (entry or {}).get("artifacts") or []
    if not artifacts:
        raise _Unresolved(f"{side[:-1]} artifact {name!r} has no value")
    artifact = artifacts[0]
    if rest == "":
        return json.dumps(artifact)
    if rest in (".path", ".uri"):
        from pmle.pipelines.executor_input import local_path

        return local_path(artifact["uri"]) if rest == ".path" else artifact["uri"]
    if rest == ".metadata":
        return json.dumps(artifact.get("metadata") or {})
    meta = _META_KEY_RE.fullmatch(rest)
    if meta is not None:
        key = meta.group(1) if meta.group(1) is not None else meta.group(2)
        metadata = artifact.get("metadata") or {}
        if key not in metadata:
            raise _Unresolved(f"{side[:-1]} artifact {name!r} has no metadata {key!r}")
        return metadata[key]
    raise _Unresolved(f"unknown placeholder {{{{${body}}}}}")


def resolve_placeholders(
    text: str, executor_input: Mapping[str, Any], context: RunContext | None = None
) -> str:
    """`text` with every `{{$...}}` replaced; one that cannot be resolved is InvalidInput."""

    def replace(match: re.Match[str]) -> str:
        try:
            return _text(_lookup(match.group(1), executor_input, context))
        except _Unresolved as exc:
            raise InvalidInput(f"cannot resolve {match.group(0)!r}: {exc}")

    return _PLACEHOLDER_RE.sub(replace, text)


def provided_inputs(executor_input: Mapping[str, Any]) -> set[str]:
    """Names of the inputs that have a value (what `IfPresent` tests)."""
    inputs = executor_input.get("inputs") or {}
    names = {k for k, v in (inputs.get("parameterValues") or {}).items() if v is not None}
    names |= {k for k, v in (inputs.get("artifacts") or {}).items() if v and v.get("artifacts")}
    return names


def _struct(text: str) -> Any:
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")) or not any(
        key in stripped[:16] for key in ('"Concat"', '"IfPresent"')
    ):
        return None
    try:
        decoded = json.loads(stripped)
    except ValueError:
        return None
    if isinstance(decoded, dict) and len(decoded) == 1 and next(iter(decoded)) in _STRUCT_KEYS:
        return decoded
    return None


_STRUCT_KEYS = ("Concat", "IfPresent")


def _expand(
    item: Any, executor_input: Mapping[str, Any], context: RunContext | None, present: set[str]
) -> list[str]:
    """One command item as zero or more argv strings."""
    if item is None:
        return []
    if isinstance(item, list):
        out: list[str] = []
        for part in item:
            out.extend(_expand(part, executor_input, context, present))
        return out
    if isinstance(item, str):
        struct = _struct(item)
        if struct is None:
            return [resolve_placeholders(item, executor_input, context)]
        item = struct
    if isinstance(item, dict) and len(item) == 1:
        ((key, body),) = item.items()
        if key == "Concat" and isinstance(body, list):
            return ["".join("".join(_expand(p, executor_input, context, present)) for p in body)]
        if key == "IfPresent" and isinstance(body, dict) and "InputName" in body:
            branch = body.get("Then") if body["InputName"] in present else body.get("Else")
            return _expand(branch, executor_input, context, present)
    raise InvalidInput(f"malformed command placeholder {json.dumps(item)[:200]}")


def resolve_command(
    items: Sequence[Any], executor_input: Mapping[str, Any], context: RunContext | None = None
) -> list[str]:
    """A container's command or args as argv: `Concat` / `IfPresent` expanded (from their
    JSON strings or dicts), then every `{{$...}}` resolved."""
    present = provided_inputs(executor_input)
    out: list[str] = []
    for item in items:
        out.extend(_expand(item, executor_input, context, present))
    return out


def resolve_json(
    value: Any, executor_input: Mapping[str, Any], context: RunContext | None = None
) -> Any:
    """Placeholders resolved at any depth of a JSON value (importer metadata). A string that is
    exactly one placeholder takes the value's own type (`n: 3`, not `"3"`); placeholders inside
    longer strings are written as text."""
    if isinstance(value, list):
        return [resolve_json(v, executor_input, context) for v in value]
    if isinstance(value, dict):
        return {
            resolve_json(k, executor_input, context): resolve_json(v, executor_input, context)
            for k, v in value.items()
        }
    if isinstance(value, str) and "{{$" in value:
        whole = _PLACEHOLDER_RE.fullmatch(value)
        if whole is not None and whole.group(1) != "":
            try:
                return _lookup(whole.group(1), executor_input, context)
            except _Unresolved as exc:
                raise InvalidInput(f"cannot resolve {value!r}: {exc}")
        return resolve_placeholders(value, executor_input, context)
    return value


def resolve_parameter_placeholders(
    values: Mapping[str, Any], context: RunContext | None = None
) -> dict[str, Any]:
    """Parameter values with the placeholders inside strings resolved against the other values
    and `context`: f-string inputs (`"hi {{$.inputs.parameters['pipelinechannel--n']}}"`) and
    `dsl.PIPELINE_*_PLACEHOLDER` arguments. Unknown placeholders are left as text: a value is
    data, and a user's string may hold `{{$` for its own reasons."""
    document = {"inputs": {"parameterValues": dict(values)}, "outputs": {"outputFile": ""}}

    def replace(match: re.Match[str]) -> str:
        body = match.group(1)
        if body == "" or body.startswith((".outputs", ".outputMetadataUri")):
            return match.group(0)
        try:
            return _text(_lookup(body, document, context))
        except _Unresolved:
            return match.group(0)

    return {
        name: _PLACEHOLDER_RE.sub(replace, value) if isinstance(value, str) else value
        for name, value in values.items()
    }
