"""KFP placeholders resolved against an ExecutorInput and a run context."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pmle.errors import InvalidInput
from pmle.pipelines.placeholders import (
    RunContext,
    provided_inputs,
    resolve_command,
    resolve_json,
    resolve_parameter_placeholders,
    resolve_placeholders,
)

EI: dict[str, Any] = {
    "inputs": {
        "parameterValues": {"s": "text", "n": 5, "x": 0.5, "b": True, "l": [1, 2], "d": {"k": 1}},
        "artifacts": {
            "ds": {
                "artifacts": [
                    {
                        "name": "ds",
                        "uri": "/data/ds",
                        "metadata": {"rows": 3, "who": "me"},
                        "type": {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"},
                    }
                ]
            }
        },
    },
    "outputs": {
        "parameters": {"p": {"outputFile": "/out/parameters/p"}},
        "artifacts": {
            "m": {"artifacts": [{"name": "m", "uri": "/out/artifacts/m", "metadata": {}}]}
        },
        "outputFile": "/out/executor_output.json",
    },
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{$.inputs.parameters['s']}}", "text"),
        ("{{$.inputs.parameters['n']}}", "5"),
        ("{{$.inputs.parameters['x']}}", "0.5"),
        ("{{$.inputs.parameters['b']}}", "true"),
        ("{{$.inputs.parameters['l']}}", "[1, 2]"),
        ("{{$.inputs.parameters['d']}}", '{"k": 1}'),
        ('{{$.inputs.parameters["s"]}}', "text"),
        ("{{$.inputs.artifacts['ds'].path}}", "/data/ds"),
        ("{{$.inputs.artifacts['ds'].uri}}", "/data/ds"),
        ("{{$.inputs.artifacts['ds'].metadata}}", '{"rows": 3, "who": "me"}'),
        ("{{$.inputs.artifacts['ds'].metadata['who']}}", "me"),
        ("{{$.inputs.artifacts['ds'].metadata['rows']}}", "3"),
        ("{{$.outputs.artifacts['m'].path}}", "/out/artifacts/m"),
        ("{{$.outputs.parameters['p'].output_file}}", "/out/parameters/p"),
        ("{{$.outputs.output_file}}", "/out/executor_output.json"),
        ("{{$.outputMetadataUri}}", "/out/executor_output.json"),
        ("{{$.pipeline_job_name}}-{{$.pipeline_task_name}}", "job-task"),
        ("{{$.pipeline_root}}/x", "/root/x"),
        ("a {{$.inputs.parameters['n']}} b {{$.inputs.parameters['s']}}", "a 5 b text"),
        ("no placeholder", "no placeholder"),
    ],
)
def test_resolve_placeholders(text: str, expected: str) -> None:
    context = RunContext(pipeline_job_name="job", pipeline_task_name="task", pipeline_root="/root")
    assert resolve_placeholders(text, EI, context) == expected


def test_whole_executor_input() -> None:
    assert json.loads(resolve_placeholders("{{$}}", EI)) == EI


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{$.inputs.parameters['nope']}}", "input parameter 'nope' has no value"),
        ("{{$.inputs.artifacts['nope'].path}}", "input artifact 'nope' has no value"),
        ("{{$.inputs.artifacts['ds'].metadata['nope']}}", "has no metadata 'nope'"),
        ("{{$.outputs.parameters['nope'].output_file}}", "no output parameter 'nope'"),
        ("{{$.json_escape[0]}}", "unknown placeholder"),
        ("{{$.inputs.artifacts['ds'].bogus}}", "unknown placeholder"),
        ("{{$.workspace_path}}", "workspace"),
    ],
)
def test_unresolvable(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        resolve_placeholders(text, EI)


def test_concat_and_ifpresent() -> None:
    concat = json.dumps({"Concat": ["--n=", "{{$.inputs.parameters['n']}}", "/", "x"]})
    present = json.dumps(
        {"IfPresent": {"InputName": "s", "Then": ["--s", "{{$.inputs.parameters['s']}}"]}}
    )
    absent = json.dumps({"IfPresent": {"InputName": "zz", "Then": ["--zz"], "Else": "--nozz"}})
    absent_no_else = json.dumps({"IfPresent": {"InputName": "zz", "Then": ["--zz"]}})
    nested = json.dumps(
        {
            "IfPresent": {
                "InputName": "ds",
                "Then": [{"Concat": ["--ds=", "{{$.inputs.artifacts['ds'].path}}"]}],
            }
        }
    )
    argv = resolve_command(["prog", concat, present, absent, absent_no_else, nested], EI)
    assert argv == ["prog", "--n=5/x", "--s", "text", "--nozz", "--ds=/data/ds"]
    # a parameter value that looks like a placeholder is data, not re-resolved
    ei = {"inputs": {"parameterValues": {"v": "{{$.inputs.parameters['v']}}"}}, "outputs": {}}
    assert resolve_command(["{{$.inputs.parameters['v']}}"], ei) == ["{{$.inputs.parameters['v']}}"]
    with pytest.raises(InvalidInput, match="malformed"):
        resolve_command([{"Concat": "not a list"}], EI)
    assert resolve_command(['{"Concat" is just text'], EI) == ['{"Concat" is just text']


def test_provided_inputs() -> None:
    ei = {"inputs": {"parameterValues": {"a": 1, "b": None}, "artifacts": {"c": {"artifacts": []}}}}
    assert provided_inputs(ei) == {"a"}
    assert provided_inputs(EI) == {"s", "n", "x", "b", "l", "d", "ds"}


def test_resolve_json_keeps_types_of_whole_placeholders() -> None:
    meta = {
        "n": "{{$.inputs.parameters['n']}}",
        "label": "n={{$.inputs.parameters['n']}}",
        "deep": [{"d": "{{$.inputs.parameters['d']}}"}],
        "plain": 1,
    }
    assert resolve_json(meta, EI) == {"n": 5, "label": "n=5", "deep": [{"d": {"k": 1}}], "plain": 1}


def test_parameter_placeholders_are_lenient() -> None:
    values = {
        "msg": "hi {{$.inputs.parameters['who']}} in {{$.pipeline_job_name}}",
        "who": "you",
        "keep": "{{$.inputs.parameters['missing']}} {{$.outputs.output_file}} {{$}} {{custom}}",
        "n": 1,
    }
    resolved = resolve_parameter_placeholders(values, RunContext(pipeline_job_name="j"))
    assert resolved["msg"] == "hi you in j"
    assert resolved["keep"] == values["keep"]
    assert resolved["n"] == 1
