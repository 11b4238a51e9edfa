"""Reading compiled KFP v2 pipelines (the examples in docs/pipelines/examples) into the IR model."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from pmle.errors import InvalidInput, NotFound
from pmle.pipelines.ir import (
    ArtifactIterator,
    Constant,
    Dag,
    OutputSelector,
    ParentInput,
    PipelineSpec,
    Task,
    TaskFinalStatus,
    TaskOutput,
    load_pipeline,
    normalise_value,
    parse_duration,
    parse_pipeline,
    topological_order,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "pipelines" / "examples"


@cache
def _raw(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())


def _load(name: str) -> PipelineSpec:
    return load_pipeline(EXAMPLES / f"{name}.yaml")


def _dags(spec: PipelineSpec) -> list[Dag]:
    return [c.dag for c in (spec.root, *spec.components.values()) if c.dag is not None]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_loads_and_orders(path: Path) -> None:
    spec = load_pipeline(path)
    assert spec.schema_version == "2.1.0"
    assert spec.sdk_version == "kfp-2.17.3"
    assert spec.name == _raw(path.stem)["pipelineInfo"]["name"]
    for dag in _dags(spec):
        order = topological_order(dag)
        assert sorted(order) == sorted(dag.tasks)
        for key in order:
            assert all(order.index(dep) < order.index(key) for dep in dag.tasks[key].upstream)
    for comp in spec.components.values():
        if comp.executor_label is not None:
            assert spec.executor(comp).label == comp.executor_label


def test_loads_from_a_dict_and_from_text_alike() -> None:
    path = EXAMPLES / "p4_linear.yaml"
    from_file = load_pipeline(path)
    assert load_pipeline(_raw("p4_linear")) == from_file
    assert parse_pipeline(path.read_text()) == from_file


def test_p1_parameter_types_and_artifacts() -> None:
    spec = _load("p1_types_artifacts")
    assert spec.description == "types and artifacts"
    params = spec.inputs.parameters
    assert {n: p.type for n, p in params.items()} == {
        "cfg": "STRUCT",
        "flag": "BOOLEAN",
        "items": "LIST",
        "n": "NUMBER_INTEGER",
        "opt": "STRING",
        "scale": "NUMBER_DOUBLE",
        "tag": "STRING",
    }
    # kfp writes n: 5.0, items: [1.0, 2.0], cfg: {a: 1.0}; they come back as ints
    assert params["n"].default == 5 and type(params["n"].default) is int
    assert params["items"].default == [1, 2] and all(
        type(v) is int for v in params["items"].default
    )
    assert params["cfg"].default == {"a": 1} and type(params["cfg"].default["a"]) is int
    assert params["scale"].default == 1.5
    assert params["flag"].default is True
    assert params["opt"].optional and not params["opt"].has_default  # Optional[str] = None
    make = spec.component("comp-make-data")
    assert make.outputs.parameters["rows"].type == "NUMBER_INTEGER"
    assert make.outputs.parameters["info"].type == "STRUCT"
    assert make.outputs.parameters["names"].type == "LIST"
    assert make.outputs.artifacts["ds"].schema_title == "system.Dataset"
    assert make.inputs.parameters["opt"].optional
    train = spec.component("comp-train")
    assert {n: a.schema_title for n, a in train.outputs.artifacts.items()} == {
        "cm": "system.ClassificationMetrics",
        "html": "system.HTML",
        "md": "system.Markdown",
        "metrics": "system.Metrics",
        "model": "system.Model",
        "raw": "system.Artifact",
    }
    assert train.outputs.parameters["Output"].type == "STRING"
    assert spec.component("comp-path-style").inputs.artifacts["ds_path"].schema_version == "0.0.1"
    task = spec.dag.tasks["train"]
    assert task.parameters["lr"].source == TaskOutput("make-data", "mean")
    assert task.artifacts["ds"].source == TaskOutput("make-data", "ds")
    assert task.caching.enable_cache and task.caching.cache_key is None
    assert spec.dag.tasks["returns-artifact"].upstream == {"make-data", "path-style"}
    assert spec.dag.tasks["make-data"].parameters["n"].source == ParentInput("n")


def test_p2_conditions_and_oneof() -> None:
    spec = _load("p2_control_flow")
    body = spec.component("comp-exit-handler-1").dag
    assert body is not None
    branches = spec.component("comp-condition-branches-2").dag
    assert branches is not None
    assert branches.tasks["condition-3"].display_name == "is-heads"  # dsl.If(name=...)
    assert branches.tasks["condition-3"].condition == (
        "inputs.parameter_values['pipelinechannel--flip-Output'] == 'heads'"
    )
    assert branches.tasks["condition-4"].condition is not None
    assert branches.tasks["condition-4"].condition.startswith("!(")
    oneof = branches.parameter_outputs["pipelinechannel--condition-branches-2-oneof-1"]
    assert oneof.oneof
    assert oneof.selectors == (
        OutputSelector("condition-3", "pipelinechannel--say-Output"),
        OutputSelector("condition-4", "pipelinechannel--say-2-Output"),
        OutputSelector("condition-5", "pipelinechannel--say-3-Output"),
    )
    # nested Ifs: each level carries its own condition
    nested = spec.component("comp-condition-6").dag
    assert nested is not None
    assert nested.tasks["condition-7"].condition == (
        "int(inputs.parameter_values['pipelinechannel--seed']) < 10"
    )
    assert body.tasks["condition-6"].upstream == {"number"}
    assert body.tasks["condition-branches-2"].condition is None


def test_p2_loops_and_collected() -> None:
    spec = _load("p2_control_flow")
    body = spec.component("comp-exit-handler-1").dag
    assert body is not None
    loop = body.tasks["for-loop-8"]
    assert loop.is_loop and loop.parallelism_limit == 2
    assert loop.parameter_iterator is not None
    assert loop.parameter_iterator.input_parameter == "pipelinechannel--items"
    assert loop.parameter_iterator.item_input == "pipelinechannel--items-loop-item"
    assert loop.parameter_iterator.items is None
    assert loop.caching.enable_cache is False  # group tasks carry no cachingOptions
    static = body.tasks["for-loop-12"].parameter_iterator
    assert static is not None and static.raw == "[4, 5]" and static.items == [4, 5]
    records = body.tasks["for-loop-10"].parameter_iterator
    assert records is not None
    assert records.items == [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}]
    assert body.tasks["for-loop-10"].parallelism_limit == 0
    say = spec.component("comp-for-loop-10").dag
    assert say is not None
    sub = say.tasks["say-6"].parameters["msg"]
    assert sub.source == ParentInput("pipelinechannel--loop-item-param-9")
    assert sub.selector == ("b",) and sub.selector_text == 'parseJson(string_value)["b"]'
    # Collected: LIST / isArtifactList outputs of the loop DAG, read from the loop task
    loop_comp = spec.component("comp-for-loop-8")
    assert loop_comp.outputs.parameters["pipelinechannel--square-Output"].type == "LIST"
    assert loop_comp.outputs.artifacts["pipelinechannel--make-ds-out"].is_list
    assert loop_comp.dag is not None
    assert loop_comp.dag.parameter_outputs["pipelinechannel--square-Output"].selectors == (
        OutputSelector("square", "Output"),
    )
    assert body.tasks["total"].parameters["xs"].source == TaskOutput(
        "for-loop-8", "pipelinechannel--square-Output"
    )
    assert body.tasks["count-ds"].artifacts["dss"].source == TaskOutput(
        "for-loop-8", "pipelinechannel--make-ds-out"
    )
    assert spec.component("comp-count-ds").inputs.artifacts["dss"].is_list
    assert spec.inputs.parameters["items"].default == [1, 2, 3]


def test_p2_exit_handler() -> None:
    spec = _load("p2_control_flow")
    handler = spec.dag.tasks["exit-handler-1"]
    assert handler.display_name == "main-body"  # dsl.ExitHandler(name=...)
    assert handler.component == "comp-exit-handler-1"
    cleanup = spec.dag.tasks["cleanup"]
    assert cleanup.strategy == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert cleanup.parameters["status"].source == TaskFinalStatus("exit-handler-1")
    assert cleanup.upstream == {"exit-handler-1"}
    status = spec.component("comp-cleanup").inputs.parameters["status"]
    assert status.type == "TASK_FINAL_STATUS" and status.optional
    assert topological_order(spec.dag) == ["exit-handler-1", "cleanup"]
    assert handler.strategy == "ALL_UPSTREAM_TASKS_SUCCEEDED"


def test_compiler_leaked_inputs_are_kept_but_marked_unresolvable() -> None:
    p2 = _load("p2_control_flow")
    leak = p2.dag.tasks["exit-handler-1"].parameters["pipelinechannel--loop-item-param-9-subvar-b"]
    assert leak.source == ParentInput("loop-item-param-9")
    assert leak.unresolvable is not None and "loop-item-param-9" in leak.unresolvable
    assert p2.dag.tasks["exit-handler-1"].parameters["pipelinechannel--seed"].unresolvable is None
    p5 = _load("p5_extras")
    assert p5.dag.tasks["for-loop-5"].parameters["pipelinechannel--loop-item-param-6"].unresolvable
    # the inner loop's f-string reads the outer item, which its own DAG does not declare
    inner = p5.component("comp-for-loop-7").dag
    assert inner is not None
    outer_item = inner.tasks["say-6"].parameters["pipelinechannel--loop-item-param-4"]
    assert outer_item.unresolvable is not None
    assert "comp-for-loop-7" in outer_item.unresolvable
    for name in ("p1_types_artifacts", "p3_misc", "p4_linear", "p8_oneof_artifacts"):
        for dag in _dags(_load(name)):
            for task in dag.tasks.values():
                assert all(b.unresolvable is None for b in task.parameters.values())
                assert all(b.unresolvable is None for b in task.artifacts.values())


def test_p3_nested_pipeline() -> None:
    spec = _load("p3_misc")
    inner = spec.component("comp-inner-pipeline")
    assert inner.dag is not None and inner.executor_label is None
    assert inner.inputs.parameters["y"].default == 2
    assert inner.outputs.parameters["Output"].type == "NUMBER_INTEGER"
    assert inner.dag.parameter_outputs["Output"].selectors == (OutputSelector("add-2", "Output"),)
    assert not inner.dag.parameter_outputs["Output"].oneof
    second = spec.dag.tasks["inner-pipeline-2"]
    assert second.component == "comp-inner-pipeline-2"
    y = second.parameters["y"].source
    assert y == Constant(5) and isinstance(y, Constant) and type(y.value) is int
    assert second.parameters["x"].source == TaskOutput("inner-pipeline", "Output")
    assert second.upstream == {"inner-pipeline", "shell-step"}  # .after(sh)
    loop = spec.dag.tasks["for-loop-1"]
    assert loop.parallelism_limit == 1
    assert loop.parameter_iterator is not None
    assert loop.parameter_iterator.input_parameter == "pipelinechannel--produce-Output"


def test_p3_importers() -> None:
    spec = _load("p3_misc")
    model = spec.executors["exec-importer"]
    assert model.kind == "importer" and model.container is None
    assert model.importer is not None
    assert model.importer.artifact_uri == Constant("gs://bucket/model/1")
    assert model.importer.schema_title == "system.Model"
    assert model.importer.metadata == {
        "framework": "sk",
        "n": "{{$.inputs.parameters['metadata']}}",
    }
    assert model.importer.reimport is False
    data = spec.executors["exec-importer-2"].importer
    assert data is not None
    assert data.artifact_uri == Constant("file:///tmp/data.csv")
    task = spec.dag.tasks["importer"]
    assert task.parameters["uri"].source == Constant("gs://bucket/model/1")
    assert task.parameters["metadata"].source == ParentInput("n")


def test_p3_container_component_settings() -> None:
    spec = _load("p3_misc")
    executor = spec.executor("comp-shell-step")
    assert executor.kind == "container" and executor.container is not None
    container = executor.container
    assert container.image == "alpine:3.19"
    assert container.command == ("sh", "-c")
    assert container.args[0].startswith('{"Concat": ')
    assert container.args[1].startswith('{"IfPresent": ')
    assert container.env == {"FOO": "bar"}
    res = container.resources
    assert (res.cpu_limit, res.cpu_request, res.memory_limit, res.memory_request) == (
        "2",
        "500m",
        "1G",
        "256M",
    )
    assert (res.accelerator_type, res.accelerator_count) == ("nvidia.com/gpu", "1")
    task = spec.dag.tasks["shell-step"]
    assert task.display_name == "Shell step!" and task.key == "shell-step"
    assert task.caching.enable_cache is False  # cachingOptions: {}
    retry = task.retry
    assert retry is not None
    assert (retry.max_retry_count, retry.backoff_duration, retry.backoff_factor) == (3, 5.0, 2.0)
    assert retry.backoff_max_duration == 60.0
    assert [retry.delay(n) for n in (1, 2, 3, 4, 5)] == [5.0, 10.0, 20.0, 40.0, 60.0]
    echo = spec.executor("comp-echo-uri").container
    assert echo is not None and echo.resources.cpu_limit is None and echo.env == {}


def test_p5_artifact_iterator_cache_key_and_optional_input_artifact() -> None:
    spec = _load("p5_extras")
    loop = spec.dag.tasks["for-loop-8"]
    assert loop.artifact_iterator == ArtifactIterator(
        "pipelinechannel--make-many-Output-loop-item", "pipelinechannel--make-many-Output"
    )
    assert loop.parameter_iterator is None and loop.is_loop
    assert loop.artifacts["pipelinechannel--make-many-Output"].source == TaskOutput(
        "make-many", "Output"
    )
    use_model = spec.dag.tasks["use-model"]
    assert use_model.caching.enable_cache and use_model.caching.cache_key == "my-key"
    assert use_model.artifacts["m"].source == ParentInput("m")
    assert use_model.artifacts["m"].unresolvable is None
    assert spec.inputs.artifacts["m"].optional
    assert spec.inputs.artifacts["m"].schema_title == "system.Model"
    container = spec.executor("comp-use-model").container
    assert container is not None and container.env == {"MY_ENV": "v1"}
    # ignore_upstream_failure(): the strategy without a final-status input
    say5 = spec.dag.tasks["say-5"]
    assert say5.strategy == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert not any(isinstance(b.source, TaskFinalStatus) for b in say5.parameters.values())
    xs = spec.dag.tasks["make-many"].parameters["xs"].source
    assert isinstance(xs, Constant) and xs.value == [1, 2, 3]
    assert all(type(v) is int for v in xs.value)
    fstring = spec.dag.tasks["say"].parameters["msg"].source
    assert fstring == Constant("hello {{$.inputs.parameters['pipelinechannel--name']}}!")
    make_many = spec.component("comp-make-many")
    assert make_many.outputs.artifacts["Output"].is_list
    outer = spec.component("comp-for-loop-5").dag
    assert outer is not None
    assert outer.parameter_outputs["pipelinechannel--say-6-Output"].selectors == (
        OutputSelector("for-loop-7", "pipelinechannel--say-6-Output"),
    )


def test_p7_retry_defaults_and_resource_placeholders() -> None:
    spec = _load("p7_tiny")
    task = spec.dag.tasks["c"]
    assert task.retry is not None
    assert task.retry.max_retry_count == 2
    assert (task.retry.backoff_duration, task.retry.backoff_max_duration) == (0.0, 3600.0)
    assert task.retry.delay(3) == 0.0
    assert task.parameters["x"].source == Constant(1)
    assert task.parameters["cpu_limit"].source == Constant(
        "{{$.inputs.parameters['pipelinechannel--cpu']}}"
    )
    container = spec.executor("comp-c").container
    assert container is not None
    assert container.resources.cpu_limit == "{{$.inputs.parameters['pipelinechannel--cpu']}}"


def test_p8_oneof_artifacts_and_pipeline_output() -> None:
    spec = _load("p8_oneof_artifacts")
    assert spec.outputs.artifacts["Output"].schema_title == "system.Dataset"
    root_out = spec.dag.artifact_outputs["Output"]
    assert root_out.selectors == (
        OutputSelector("condition-branches-1", "pipelinechannel--condition-branches-1-oneof-1"),
    )
    branches = spec.component("comp-condition-branches-1").dag
    assert branches is not None
    oneof = branches.artifact_outputs["pipelinechannel--condition-branches-1-oneof-1"]
    assert oneof.oneof and [s.task for s in oneof.selectors] == ["condition-2", "condition-3"]


def test_p4_pipeline_output() -> None:
    spec = _load("p4_linear")
    assert spec.outputs.parameters
    assert topological_order(spec.dag) == ["inc", "inc-2", "inc-3", "inc-4", "inc-5"]


# ---- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ptype", "value", "expected"),
    [
        ("NUMBER_INTEGER", 5.0, 5),
        ("NUMBER_INTEGER", 7, 7),
        ("NUMBER_INTEGER", "{{$.inputs.parameters['x']}}", "{{$.inputs.parameters['x']}}"),
        ("NUMBER_DOUBLE", 1, 1.0),
        ("NUMBER_DOUBLE", 1.5, 1.5),
        ("LIST", [1.0, 2.5, [3.0], {"a": 4.0}], [1, 2.5, [3], {"a": 4}]),
        (
            "STRUCT",
            {"a": 1.0, "b": {"c": [2.0]}, "d": "1.0"},
            {"a": 1, "b": {"c": [2]}, "d": "1.0"},
        ),
        ("BOOLEAN", True, True),
        ("STRING", "5.0", "5.0"),
        ("NUMBER_INTEGER", None, None),
    ],
)
def test_normalise_value(ptype: str, value: Any, expected: Any) -> None:
    result = normalise_value(ptype, value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(("ptype", "value"), [("NUMBER_INTEGER", 2.5), ("NUMBER_INTEGER", True)])
def test_normalise_value_rejects(ptype: str, value: Any) -> None:
    with pytest.raises(InvalidInput, match="must be an integer"):
        normalise_value(ptype, value)


def test_a_non_integral_int_default_is_invalid() -> None:
    raw = copy.deepcopy(_raw("p3_misc"))
    raw["root"]["inputDefinitions"]["parameters"]["n"]["defaultValue"] = 2.5
    with pytest.raises(InvalidInput, match="default of 'n' must be an integer"):
        load_pipeline(raw)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5.0), ("0s", 0.0), ("0.5s", 0.5), ("1m30s", 90.0), ("2h", 7200.0), ("250ms", 0.25)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "five seconds", "5 s", None])
def test_parse_duration_rejects(text: Any) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(text)


# ---- documents -------------------------------------------------------------------------------


def test_second_yaml_document_is_the_platform_spec() -> None:
    text = (EXAMPLES / "p4_linear.yaml").read_text()
    platform = "---\nplatforms:\n  kubernetes:\n    deploymentSpec:\n      executors: {}\n"
    spec = parse_pipeline(text + platform)
    assert spec.platform_spec == {
        "platforms": {"kubernetes": {"deploymentSpec": {"executors": {}}}}
    }
    assert _load("p4_linear").platform_spec == {}


def test_a_pipeline_job_wrapper_is_unwrapped() -> None:
    spec = load_pipeline({"pipelineSpec": _raw("p4_linear"), "runtimeConfig": {}})
    assert spec.name == "p4-linear"


def test_legacy_forms_of_types_and_bindings() -> None:
    # schemaVersion 2.0.0 files (kfp 1.8) use `type: INT`, `constantValue` and `runtimeParameter`
    raw = copy.deepcopy(_raw("p4_linear"))
    raw["root"]["inputDefinitions"]["parameters"]["x"] = {"type": "INT", "defaultValue": 4.0}
    tasks = raw["root"]["dag"]["tasks"]
    tasks["inc"]["inputs"]["parameters"]["x"] = {"runtimeValue": {"runtimeParameter": "x"}}
    tasks["inc-2"]["inputs"]["parameters"]["y"] = {
        "runtimeValue": {"constantValue": {"intValue": "3"}}
    }
    tasks["inc-2"]["triggerPolicy"] = {"strategy": "TRIGGER_STRATEGY_UNSPECIFIED"}
    spec = load_pipeline(raw)
    assert spec.inputs.parameters["x"].type == "NUMBER_INTEGER"
    assert spec.inputs.parameters["x"].default == 4
    assert spec.dag.tasks["inc"].parameters["x"].source == ParentInput("x")
    assert spec.dag.tasks["inc-2"].parameters["y"].source == Constant(3)
    assert spec.dag.tasks["inc-2"].strategy == "ALL_UPSTREAM_TASKS_SUCCEEDED"


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: d.pop("root"), "is not a compiled pipeline"),
        (lambda d: d["pipelineInfo"].pop("name"), "pipelineInfo.name is missing"),
        (
            lambda d: d["root"]["dag"]["tasks"]["inc"]["componentRef"].update(name="comp-nope"),
            "unknown component 'comp-nope'",
        ),
        (
            lambda d: d["root"]["dag"]["tasks"]["inc-2"].update(dependentTasks=["ghost"]),
            "depends on 'ghost'",
        ),
        (
            lambda d: d["deploymentSpec"]["executors"].pop("exec-inc"),
            "names executor 'exec-inc'",
        ),
        (lambda d: d["components"]["comp-inc"].update(dag={}), "exactly one of"),
        (
            lambda d: d["root"]["dag"]["outputs"]["parameters"]["Output"][
                "valueFromParameter"
            ].update(producerSubtask="ghost"),
            "selects unknown task 'ghost'",
        ),
    ],
)
def test_malformed_documents_are_invalid(edit: Any, needle: str) -> None:
    raw = copy.deepcopy(_raw("p4_linear"))
    edit(raw)
    with pytest.raises(InvalidInput) as err:
        load_pipeline(raw)
    assert needle in err.value.message


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_pipeline(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("root: [unclosed\n")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_pipeline(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(InvalidInput, match="holds no compiled pipeline"):
        load_pipeline(empty)


# ---- topological order -----------------------------------------------------------------------


def _task(key: str, after: tuple[str, ...] = (), reads: str | None = None) -> Task:
    params = {}
    if reads is not None:
        from pmle.pipelines.ir import ParameterInput

        params["x"] = ParameterInput("x", TaskOutput(reads, "Output"))
    return Task(
        key=key, display_name=key, component="comp", parameters=params, dependent_tasks=after
    )


def test_topological_order_follows_data_dependencies_and_is_stable() -> None:
    dag = Dag(
        tasks={
            "d": _task("d", reads="c"),  # a data dependency not listed in dependentTasks
            "c": _task("c", after=("a",)),
            "b": _task("b"),
            "a": _task("a"),
        }
    )
    assert topological_order(dag) == ["a", "b", "c", "d"]


def test_topological_order_rejects_a_cycle() -> None:
    dag = Dag(
        tasks={
            "a": _task("a", reads="c"),
            "b": _task("b", after=("a",)),
            "c": _task("c", after=("b",)),
            "z": _task("z"),
        }
    )
    with pytest.raises(InvalidInput, match=r"tasks \['a', 'b', 'c'\] depend on each other"):
        topological_order(dag)


def test_topological_order_rejects_unknown_tasks() -> None:
    with pytest.raises(InvalidInput, match="unknown tasks"):
        topological_order(Dag(tasks={"a": _task("a", after=("nope",))}))
