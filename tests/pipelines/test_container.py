"""Container components as local processes, and importer nodes (IR compiled by real kfp)."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pmle.errors import InvalidInput
from pmle.pipelines.container import resolve_container_command, run_container, run_importer
from pmle.pipelines.executor_input import ArtifactRef, build_executor_input
from pmle.pipelines.ir import (
    Component,
    Constant,
    ContainerSpec,
    Executor,
    ImporterSpec,
    Interface,
    ParameterSpec,
    ParentInput,
    PipelineSpec,
    load_pipeline,
)
from pmle.pipelines.tasks import TaskRequest, TaskResult, TaskState, run_task

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "docs" / "pipelines" / "examples"


@pytest.fixture(scope="module")
def ir(tmp_path_factory: pytest.TempPathFactory) -> PipelineSpec:
    pytest.importorskip("kfp")
    spec = importlib.util.spec_from_file_location("pmle_kfp_components", HERE / "kfp_components.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return load_pipeline(module.compile_pipeline(tmp_path_factory.mktemp("ir") / "p.yaml"))


def request(
    ir: PipelineSpec,
    component: str,
    out: Path,
    params: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, Sequence[ArtifactRef]] | None = None,
    **options: Any,
) -> TaskRequest:
    comp = ir.component(f"comp-{component}")
    executor = ir.executor(comp)
    executor_input = build_executor_input(comp, executor, params or {}, artifacts or {}, out)
    return TaskRequest(component, comp, executor, executor_input, **options)


def ok(result: TaskResult) -> TaskResult:
    assert result.state is TaskState.SUCCEEDED, result.error
    return result


def adhoc(command: Sequence[str], out: Path, **options: Any) -> TaskRequest:
    """A hand-made container task with one optional STRING input `x` and no outputs."""
    comp = Component(
        "comp-adhoc",
        inputs=Interface(parameters={"x": ParameterSpec("x", "STRING", optional=True)}),
        executor_label="exec-adhoc",
    )
    executor = Executor("exec-adhoc", "container", container=ContainerSpec("img", tuple(command)))
    return TaskRequest(
        "adhoc", comp, executor, build_executor_input(comp, executor, {}, {}, out), **options
    )


def test_concat_ifpresent_and_output_paths(ir: PipelineSpec, tmp_path: Path) -> None:
    req = request(ir, "shell-step", tmp_path / "sh", {"msg": "hi there", "n": 3.0})
    argv = resolve_container_command(req)
    out = tmp_path / "sh" / "artifacts" / "out"
    outp = tmp_path / "sh" / "parameters" / "outp"
    nout = tmp_path / "sh" / "parameters" / "nout"
    assert argv == [
        "sh",
        "-c",
        f"echo hi there > {out} && printf done > {outp} && echo 3 > {nout}",
        "sh",
        "--msg",
        "hi there",
    ]
    result = ok(run_container(req))
    assert result.parameters == {"outp": "done", "nout": 3}
    assert type(result.parameters["nout"]) is int
    ds = result.artifacts["out"]
    assert ds.uri == str(out) and ds.metadata == {} and ds.schema_title == "system.Dataset"
    assert out.read_text() == "hi there\n"
    assert result.log_path == tmp_path / "sh" / "task.log"


def test_ifpresent_else_branch(ir: PipelineSpec, tmp_path: Path) -> None:
    absent = ok(run_container(request(ir, "optional-flag", tmp_path / "a")))
    assert absent.parameters == {"out": "--none"}
    present = ok(run_container(request(ir, "optional-flag", tmp_path / "b", {"extra": "x y"})))
    assert present.parameters == {"out": "--extra x y"}


def test_python_command_env_and_input_artifact(ir: PipelineSpec, tmp_path: Path) -> None:
    data = tmp_path / "in.txt"
    data.write_text("abc")
    ds = ArtifactRef("d", f"file://{data}", schema_title="system.Dataset")
    req = request(ir, "python-writes-output", tmp_path / "py", {}, {"d": [ds]})
    assert resolve_container_command(req)[0] == sys.executable  # `python3` runs this interpreter
    result = ok(run_task(req))
    assert result.parameters == {"out": "ABC!"}  # PMLE_TEST_FOO="!" from set_env_variable


def test_failing_command(ir: PipelineSpec, tmp_path: Path) -> None:
    result = run_container(request(ir, "failing-container", tmp_path / "f"))
    assert result.state is TaskState.FAILED
    assert "exit code 3" in str(result.error) and "about to fail" in str(result.error)


def test_missing_command_timeout_and_bad_placeholder(tmp_path: Path) -> None:
    missing = run_container(adhoc(["pmle-no-such-binary-xyz"], tmp_path / "m"))
    assert missing.state is TaskState.FAILED
    assert "cannot run 'pmle-no-such-binary-xyz'" in str(missing.error)
    assert "ignores the image 'img'" in str(missing.error)

    start = time.perf_counter()
    slow = run_container(adhoc(["sh", "-c", "sleep 30"], tmp_path / "s", timeout_s=0.3))
    assert time.perf_counter() - start < 10
    assert slow.state is TaskState.FAILED and "timed out after 0.3 s" in str(slow.error)

    bad = run_container(adhoc(["echo", "{{$.inputs.parameters['x']}}"], tmp_path / "b"))
    assert bad.state is TaskState.FAILED
    assert "input parameter 'x' has no value" in str(bad.error)
    assert bad.log_path is not None and "has no value" in bad.log_path.read_text()


def test_executor_output_written_by_the_command(tmp_path: Path) -> None:
    comp = Component(
        "comp-eo",
        outputs=Interface(parameters={"p": ParameterSpec("p", "NUMBER_INTEGER")}),
        executor_label="exec-eo",
    )
    script = 'printf \'%s\' \'{"parameterValues": {"p": 4.0}}\' > "$0"'
    executor = Executor(
        "exec-eo",
        "container",
        container=ContainerSpec("img", ("sh", "-c", script, "{{$.outputs.output_file}}")),
    )
    ei = build_executor_input(comp, executor, {}, {}, tmp_path / "eo")
    result = ok(run_container(TaskRequest("eo", comp, executor, ei)))
    assert result.parameters == {"p": 4} and type(result.parameters["p"]) is int


def test_a_missing_output_parameter_fails(ir: PipelineSpec, tmp_path: Path) -> None:
    req = request(ir, "shell-step", tmp_path / "sh", {"msg": "m", "n": 1})
    assert req.executor.container is not None
    container = dataclasses.replace(req.executor.container, args=("true",))
    result = run_container(
        dataclasses.replace(req, executor=dataclasses.replace(req.executor, container=container))
    )
    assert result.state is TaskState.FAILED
    assert "did not write its output parameter" in str(result.error)


def test_importer_from_the_compiled_pipeline(ir: PipelineSpec) -> None:
    executor = ir.executors["exec-importer"]
    assert executor.importer is not None
    task = ir.dag.tasks["importer"]
    uri = task.parameters["uri"].source
    assert isinstance(uri, Constant)
    artifact = run_importer(executor.importer, {"uri": uri.value, "metadata": 3})
    assert artifact == ArtifactRef(
        "artifact",
        "/tmp/pmle-data.csv",  # file:// made a path
        {"framework": "sk", "n": 3, "label": "n=3"},  # a whole placeholder keeps its type
        "system.Dataset",
    )
    with pytest.raises(InvalidInput, match="has no value"):
        run_importer(executor.importer, {"uri": uri.value})


def test_importer_uri_from_a_parameter_and_remote_uris(tmp_path: Path, monkeypatch: Any) -> None:
    spec = ImporterSpec(ParentInput("uri"), "system.Model", "0.0.1", metadata={"k": "v"})
    assert run_importer(spec, {"uri": f"file://{tmp_path}/m"}).uri == f"{tmp_path}/m"
    monkeypatch.chdir(tmp_path)
    assert run_importer(spec, {"uri": "rel/m"}).uri == str(tmp_path / "rel" / "m")
    with pytest.raises(InvalidInput, match="which has no value"):
        run_importer(spec, {})
    p3 = load_pipeline(EXAMPLES / "p3_misc.yaml")
    importer = p3.executors["exec-importer"].importer
    assert importer is not None
    model = run_importer(importer, {"uri": "gs://bucket/model/1", "metadata": 3})
    assert model.uri == "gs://bucket/model/1" and model.path == "gs://bucket/model/1"
    assert model.metadata == {"framework": "sk", "n": 3} and model.schema_title == "system.Model"


def test_run_task_refuses_importers() -> None:
    comp = Component("comp-importer", executor_label="exec-importer")
    importer = Executor(
        "exec-importer", "importer", importer=ImporterSpec(Constant("/x"), "system.Artifact")
    )
    ei = {"inputs": {"parameterValues": {}}, "outputs": {"outputFile": "/tmp/x/eo.json"}}
    with pytest.raises(InvalidInput, match="run_importer"):
        run_task(TaskRequest("imp", comp, importer, ei))


def test_workdir(tmp_path: Path) -> None:
    (tmp_path / "wd").mkdir()
    ok(run_container(adhoc(["sh", "-c", "pwd > marker"], tmp_path / "t", workdir=tmp_path / "wd")))
    assert (tmp_path / "wd" / "marker").read_text().strip() == str(tmp_path / "wd")
