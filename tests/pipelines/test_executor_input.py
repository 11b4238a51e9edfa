"""build_executor_input: the ExecutorInput JSON of a task, from resolved values."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmle.errors import InvalidInput
from pmle.pipelines.executor_input import (
    ArtifactRef,
    build_executor_input,
    local_path,
    output_dir_of,
)
from pmle.pipelines.ir import (
    ArtifactSpec,
    Component,
    Interface,
    ParameterSpec,
    load_pipeline,
)
from pmle.pipelines.placeholders import RunContext

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "pipelines" / "examples"


def component(**inputs: ParameterSpec | ArtifactSpec) -> Component:
    params = {k: v for k, v in inputs.items() if isinstance(v, ParameterSpec)}
    arts = {k: v for k, v in inputs.items() if isinstance(v, ArtifactSpec)}
    return Component(
        "comp-x",
        inputs=Interface(parameters=params, artifacts=arts),
        outputs=Interface(
            parameters={"Output": ParameterSpec("Output", "NUMBER_INTEGER")},
            artifacts={"model": ArtifactSpec("model", "system.Model", "0.0.1")},
        ),
        executor_label="exec-x",
    )


def test_p1_make_data(tmp_path: Path) -> None:
    p1 = load_pipeline(EXAMPLES / "p1_types_artifacts.yaml")
    comp = p1.component("comp-make-data")
    values = {
        "n": 5.0,
        "scale": 2,
        "tag": "t",
        "flag": True,
        "cfg": {"a": 1.0, "b": [2.0, 2.5]},
        "items": [1.0, 2.0],
        "opt": None,
    }
    ei = build_executor_input(comp, p1.executor(comp), values, {}, tmp_path / "task")
    params = ei["inputs"]["parameterValues"]
    assert params == {
        "n": 5,
        "scale": 2.0,
        "tag": "t",
        "flag": True,
        "cfg": {"a": 1, "b": [2, 2.5]},
        "items": [1, 2],
    }  # opt=None is left out: the function's default applies
    assert type(params["n"]) is int and type(params["scale"]) is float
    assert "artifacts" not in ei["inputs"]
    out = tmp_path / "task"
    assert ei["outputs"]["outputFile"] == str(out / "executor_output.json")
    assert ei["outputs"]["parameters"]["rows"] == {"outputFile": str(out / "parameters" / "rows")}
    assert ei["outputs"]["artifacts"] == {
        "ds": {
            "artifacts": [
                {
                    "name": "ds",
                    "uri": str(out / "artifacts" / "ds"),
                    "metadata": {},
                    "type": {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"},
                }
            ]
        }
    }
    assert output_dir_of(ei) == out


def test_defaults_optional_and_missing(tmp_path: Path) -> None:
    comp = component(
        a=ParameterSpec("a", "NUMBER_INTEGER", default=3.0, has_default=True),
        b=ParameterSpec("b", "STRING", optional=True),
        c=ParameterSpec("c", "NUMBER_DOUBLE"),
    )
    ei = build_executor_input(comp, None, {"c": 1}, {}, tmp_path)
    assert ei["inputs"]["parameterValues"] == {"a": 3, "c": 1.0}
    with pytest.raises(InvalidInput, match="input parameter 'c' has no value"):
        build_executor_input(comp, None, {}, {}, tmp_path)
    with pytest.raises(InvalidInput, match="must be an integer"):
        build_executor_input(comp, None, {"a": 1.5, "c": 1}, {}, tmp_path)


def test_fstrings_and_run_context(tmp_path: Path) -> None:
    comp = component(msg=ParameterSpec("msg", "STRING"), job=ParameterSpec("job", "STRING"))
    values = {
        "msg": "hello {{$.inputs.parameters['pipelinechannel--name']}} "
        "#{{$.inputs.parameters['pipelinechannel--n']}}",
        "pipelinechannel--name": "world",
        "pipelinechannel--n": 3,
        "job": "{{$.pipeline_job_name}}/{{$.pipeline_task_name}}",
    }
    context = RunContext(pipeline_job_name="run-1", pipeline_task_name="say")
    ei = build_executor_input(comp, None, values, {}, tmp_path, context=context)
    params = ei["inputs"]["parameterValues"]
    assert params["msg"] == "hello world #3"
    assert params["job"] == "run-1/say"
    assert params["pipelinechannel--name"] == "world"  # injected inputs are passed on


def test_input_artifacts(tmp_path: Path) -> None:
    comp = component(
        one=ArtifactSpec("one", "system.Dataset", "0.0.1"),
        many=ArtifactSpec("many", "system.Dataset", "0.0.1", is_list=True),
        maybe=ArtifactSpec("maybe", "system.Model", "0.0.1", optional=True),
    )
    a = ArtifactRef("a", f"file://{tmp_path}/a", {"rows": 2}, "system.Dataset")
    b = ArtifactRef("b", str(tmp_path / "b"), schema_title="system.Dataset")
    ei = build_executor_input(comp, None, {}, {"one": a, "many": [a, b]}, tmp_path / "t")
    arts = ei["inputs"]["artifacts"]
    assert arts["one"] == {
        "artifacts": [
            {
                "name": "a",
                "uri": f"{tmp_path}/a",  # file:// made a path: kfp uses the uri verbatim
                "metadata": {"rows": 2},
                "type": {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"},
            }
        ]
    }
    assert [x["name"] for x in arts["many"]["artifacts"]] == ["a", "b"]
    assert "maybe" not in arts
    with pytest.raises(InvalidInput, match="takes one artifact, got 2"):
        build_executor_input(comp, None, {}, {"one": [a, b], "many": [a]}, tmp_path)
    with pytest.raises(InvalidInput, match="input artifact 'one' has no value"):
        build_executor_input(comp, None, {}, {"many": [a]}, tmp_path)
    with pytest.raises(InvalidInput, match="no input artifacts"):
        build_executor_input(comp, None, {}, {"one": a, "many": [a], "other": [a]}, tmp_path)


def test_local_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert local_path("file:///tmp/x%20y") == "/tmp/x y"
    assert local_path("file://localhost/tmp/x") == "/tmp/x"
    assert local_path("/abs/x") == "/abs/x"
    assert local_path("gs://b/x") == "gs://b/x"
    monkeypatch.chdir(tmp_path)
    assert local_path("rel/x") == str(tmp_path / "rel" / "x")
    with pytest.raises(InvalidInput, match="remote host"):
        local_path("file://server/share/x")
    assert ArtifactRef("m", "file:///m").path == "/m"
