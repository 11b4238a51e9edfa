"""WorkerPool: lightweight Python components compiled by real kfp, run in warm workers."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kfp")

from pmle.errors import Conflict, InvalidInput, PmleError
from pmle.pipelines.executor_input import ArtifactRef, build_executor_input
from pmle.pipelines.ir import PipelineSpec, load_pipeline
from pmle.pipelines.placeholders import RunContext
from pmle.pipelines.tasks import TaskRequest, TaskResult, TaskState, run_task
from pmle.pipelines.workers import WorkerPool

HERE = Path(__file__).resolve().parent


def compile_test_pipeline(folder: Path) -> PipelineSpec:
    """Compile tests/pipelines/kfp_components.py's pipeline with kfp and load the IR."""
    spec = importlib.util.spec_from_file_location("pmle_kfp_components", HERE / "kfp_components.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return load_pipeline(module.compile_pipeline(folder / "exec_tests.yaml"))


@pytest.fixture(scope="module")
def ir(tmp_path_factory: pytest.TempPathFactory) -> PipelineSpec:
    return compile_test_pipeline(tmp_path_factory.mktemp("ir"))


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(2) as workers:
        workers.start()
        yield workers


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
    context = options.pop("context", None)
    executor_input = build_executor_input(
        comp, executor, params or {}, artifacts or {}, out, context=context
    )
    return TaskRequest(component, comp, executor, executor_input, **options)


def ok(result: TaskResult) -> TaskResult:
    assert result.state is TaskState.SUCCEEDED, result.error
    return result


def test_every_parameter_type_in_and_out(
    ir: PipelineSpec, pool: WorkerPool, tmp_path: Path
) -> None:
    params = {  # floats where the IR writes integers: the executor input types them
        "n": 3.0,
        "scale": 1,
        "tag": "t",
        "flag": True,
        "cfg": {"a": 1.0},
        "items": ["x", "y"],
    }
    result = ok(pool.run(request(ir, "make-data", tmp_path / "make", params)))
    assert result.parameters == {
        "rows": 3,
        "mean": 1.0,
        "label": "t-None",
        "ok": True,
        "info": {"a": 1},
        "names": ["x", "y"],
    }
    assert type(result.parameters["rows"]) is int and type(result.parameters["mean"]) is float
    ds = result.artifacts["ds"]
    assert ds.uri == str(tmp_path / "make" / "artifacts" / "ds")
    assert ds.metadata == {"rows": 3} and ds.schema_title == "system.Dataset"
    assert json.loads(Path(ds.path).read_text()) == [0.0, 1.0, 2.0]
    assert result.log_path == tmp_path / "make" / "task.log" and result.log_path.is_file()
    assert result.duration_s > 0 and result.error is None
    assert result.executor_output["parameterValues"]["rows"] == 3

    # an optional input given a value
    result = ok(pool.run(request(ir, "make-data", tmp_path / "m2", {**params, "opt": "o"})))
    assert result.parameters["label"] == "t-o"


def test_artifact_types(ir: PipelineSpec, pool: WorkerPool, tmp_path: Path) -> None:
    data = tmp_path / "in.json"
    data.write_text("[1, 2, 3, 4]")
    ds = ArtifactRef("ds", f"file://{data}", {"rows": 4}, "system.Dataset")
    result = ok(pool.run(request(ir, "train", tmp_path / "train", {"lr": 0.5}, {"ds": [ds]})))
    arts = result.artifacts
    model = arts["model"]
    assert result.parameters == {"Output": model.uri}
    assert json.loads(Path(model.path).read_text()) == {"w": 2.0, "input_rows": 4}
    assert model.metadata == {"framework": "toy"} and model.schema_title == "system.Model"
    # Metrics and ClassificationMetrics live only in metadata: no file is written for them
    assert arts["metrics"].metadata == {"accuracy": 0.9, "loss": 0.1}
    assert arts["metrics"].schema_title == "system.Metrics"
    assert not Path(arts["metrics"].path).exists()
    matrix = arts["cm"].metadata["confusionMatrix"]
    assert matrix["rows"] == [{"row": [5, 1]}, {"row": [2, 6]}]
    assert arts["cm"].schema_title == "system.ClassificationMetrics"
    assert Path(arts["md"].path).read_text() == "# hello\n"
    assert arts["md"].schema_title == "system.Markdown"
    assert Path(arts["html"].path).read_text() == "<h1>hi</h1>"
    assert arts["html"].schema_title == "system.HTML"


def test_output_path_parameters_and_input_path(
    ir: PipelineSpec, pool: WorkerPool, tmp_path: Path
) -> None:
    data = tmp_path / "rows.json"
    data.write_text("[0.5]")
    ds = ArtifactRef("ds", str(data), schema_title="system.Dataset")
    result = ok(pool.run(request(ir, "path-style", tmp_path / "p", {}, {"ds_path": [ds]})))
    # OutputPath parameters are read from their files (not in executor_output.json)
    assert result.parameters == {
        "n_out": 7,
        "s_out": "plain text, not JSON",
        "b_out": True,
        "l_out": [1, 2.5],
    }
    assert "parameterValues" not in result.executor_output
    assert Path(result.artifacts["out_path"].path).read_text() == "[0.5]"


def test_returned_artifact_and_a_list_of_artifacts(
    ir: PipelineSpec, pool: WorkerPool, tmp_path: Path
) -> None:
    made = [
        ok(pool.run(request(ir, "returns-artifact", tmp_path / f"r{i}", {"x": i}))).artifacts[
            "Output"
        ]
        for i in (1, 2)
    ]
    assert Path(made[0].path).read_text() == "payload 1"
    result = ok(pool.run(request(ir, "count", tmp_path / "count", {}, {"dss": made})))
    assert result.parameters == {"Output": 18}


def test_a_raising_component_fails_with_its_traceback(
    ir: PipelineSpec, pool: WorkerPool, tmp_path: Path
) -> None:
    result = pool.run(request(ir, "boom", tmp_path / "boom", {"x": 3}))
    assert result.state is TaskState.FAILED and not result.succeeded
    assert result.error is not None
    assert "Traceback" in result.error and "ValueError: boom 3" in result.error
    assert 'ephemeral_component.py", line' in result.error and "in boom" in result.error
    assert "_worker.py" not in result.error  # the traceback starts in the component
    assert "ValueError: boom 3" in result.log_path.read_text()  # type: ignore[union-attr]
    assert result.parameters == {} and result.artifacts == {}
    ok(pool.run(request(ir, "inc", tmp_path / "after", {"x": 1})))


def test_a_dying_worker_fails_the_task_and_is_replaced(
    ir: PipelineSpec, pool: WorkerPool, tmp_path: Path
) -> None:
    result = pool.run(request(ir, "die", tmp_path / "die", {"code": 7}))
    assert result.state is TaskState.FAILED
    assert result.error is not None and "died (exit code 7)" in result.error
    for i in range(3):  # the pool goes on, with a fresh worker in place of the dead one
        assert ok(pool.run(request(ir, "inc", tmp_path / f"inc{i}", {"x": i}))).parameters == {
            "Output": i + 1
        }
    assert pool.alive == 2


def test_a_segfault_is_reported_with_its_python_traceback(
    ir: PipelineSpec, pool: WorkerPool, tmp_path: Path
) -> None:
    result = pool.run(request(ir, "segfault", tmp_path / "segv"))
    assert result.state is TaskState.FAILED
    assert "died (killed by SIGSEGV)" in str(result.error)
    assert "Segmentation fault" in str(result.error)  # faulthandler's dump, from the task log
    assert "in segfault" in result.log_path.read_text()  # type: ignore[union-attr]
    ok(pool.run(request(ir, "inc", tmp_path / "after", {"x": 1})))


def test_a_worker_without_kfp(ir: PipelineSpec, tmp_path: Path) -> None:
    python = tmp_path / "python-without-site"  # -S: no site-packages, so no kfp
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
    python.chmod(0o755)
    with WorkerPool(1, python=str(python)) as broken:
        result = broken.run(request(ir, "inc", tmp_path / "a", {"x": 1}))
        assert result.state is TaskState.FAILED
        assert "cannot import kfp" in str(result.error) and "kfp>=2.17.3" in str(result.error)
        with pytest.raises(PmleError, match="did not start"):
            broken.start()


def test_workers_are_recycled_after_max_tasks(ir: PipelineSpec, tmp_path: Path) -> None:
    with WorkerPool(1, max_tasks=2) as recycling:
        pids = set()
        for i in range(5):
            result = ok(recycling.run(request(ir, "inc", tmp_path / f"i{i}", {"x": i})))
            assert result.parameters == {"Output": i + 1}
            pids |= {w.proc.pid for w in recycling._workers}
        assert len(pids) >= 3 and recycling.alive == 1


def test_missing_packages_fail_clearly(ir: PipelineSpec, pool: WorkerPool, tmp_path: Path) -> None:
    result = pool.run(request(ir, "needs-pkg", tmp_path / "pkg"))
    assert result.state is TaskState.FAILED and result.error is not None
    assert "pmle-not-a-real-package-xyz==1.0" in result.error
    assert "pyyaml" not in result.error  # installed here, so not named
    assert "does not install packages" in result.error
    assert "pmle-not-a-real-package-xyz" in result.log_path.read_text()  # type: ignore[union-attr]


def test_logs_capture_stdout_stderr_and_child_processes(
    ir: PipelineSpec, pool: WorkerPool, tmp_path: Path
) -> None:
    log = tmp_path / "logs" / "noisy.log"
    result = ok(pool.run(request(ir, "noisy", tmp_path / "noisy", {"x": 5}, log_path=log)))
    assert result.log_path == log
    text = log.read_text()
    assert "to stdout 5" in text and "to stderr 5" in text and "from a child process" in text
    again = ok(pool.run(request(ir, "noisy", tmp_path / "noisy2", {"x": 6})))
    assert "to stdout 5" not in again.log_path.read_text()  # type: ignore[union-attr]


def test_env_vars_apply_to_their_task_only(
    ir: PipelineSpec, pool: WorkerPool, tmp_path: Path
) -> None:
    with_env = request(ir, "env-reader", tmp_path / "env")
    assert with_env.executor.container is not None
    assert with_env.executor.container.env == {"PMLE_TEST_FOO": "bar"}
    for i in range(3):  # run on every worker, so each one restores its environment
        assert ok(pool.run(with_env)).parameters == {"Output": "bar"}
        container = dataclasses.replace(with_env.executor.container, env={})
        without = dataclasses.replace(
            with_env, executor=dataclasses.replace(with_env.executor, container=container)
        )
        result = pool.run(dataclasses.replace(without, log_path=tmp_path / f"no-env{i}.log"))
        assert result.state is TaskState.FAILED and "KeyError: 'PMLE_TEST_FOO'" in str(result.error)


def test_placeholders_in_parameter_values(
    ir: PipelineSpec, pool: WorkerPool, tmp_path: Path
) -> None:
    task = ir.dag.tasks["say"]  # say(msg=f"hello {msg}!")
    constant = task.parameters["msg"].source
    params = {"msg": constant.value, "pipelinechannel--msg": "world"}  # type: ignore[union-attr]
    result = ok(pool.run(request(ir, "say", tmp_path / "say", params)))
    assert result.parameters == {"Output": "hello world!"}
    job = ir.dag.tasks["say-2"].parameters["msg"].source  # dsl.PIPELINE_JOB_NAME_PLACEHOLDER
    context = RunContext(pipeline_job_name="job-7")
    result = ok(
        pool.run(
            request(ir, "say-2", tmp_path / "say2", {"msg": job.value}, context=context)  # type: ignore[union-attr]
        )
    )
    assert result.parameters == {"Output": "job-7"}


def test_exit_handler_status(ir: PipelineSpec, pool: WorkerPool, tmp_path: Path) -> None:
    assert ir.component("comp-final").inputs.parameters["status"].type == "TASK_FINAL_STATUS"
    status = {
        "state": "FAILED",
        "pipelineJobResourceName": "run-1",
        "pipelineTaskName": "exit-handler-1",
        "error": {"code": 1, "message": "boom"},
    }
    result = ok(pool.run(request(ir, "final", tmp_path / "final", {"status": status})))
    assert result.parameters == {"Output": "FAILED exit-handler-1 1 boom"}


def test_timeout_kills_the_task(ir: PipelineSpec, pool: WorkerPool, tmp_path: Path) -> None:
    start = time.perf_counter()
    result = pool.run(request(ir, "sleepy", tmp_path / "sleep", {"seconds": 30}, timeout_s=0.5))
    assert time.perf_counter() - start < 10
    assert result.state is TaskState.FAILED and "timed out after 0.5 s" in str(result.error)
    ok(pool.run(request(ir, "inc", tmp_path / "after", {"x": 1})))


def test_threads_share_the_pool(ir: PipelineSpec, pool: WorkerPool, tmp_path: Path) -> None:
    requests = [request(ir, "inc", tmp_path / f"t{i}", {"x": i}) for i in range(12)]
    with ThreadPoolExecutor(6) as threads:
        results = list(threads.map(pool.run, requests))
    assert [ok(r).parameters["Output"] for r in results] == list(range(1, 13))
    assert pool.alive <= 2


def test_missing_outputs_fail_the_task(ir: PipelineSpec, pool: WorkerPool, tmp_path: Path) -> None:
    # a component whose executor input asks for an output the function never writes
    base = request(ir, "inc", tmp_path / "inc", {"x": 1})
    comp = base.component
    extra = dataclasses.replace(comp.outputs.parameters["Output"], name="other")
    outputs = dataclasses.replace(
        comp.outputs, parameters={**comp.outputs.parameters, "other": extra}
    )
    result = pool.run(
        dataclasses.replace(base, component=dataclasses.replace(comp, outputs=outputs))
    )
    assert result.state is TaskState.FAILED
    assert "did not write its output parameter 'other'" in str(result.error)


def test_requests_the_pool_cannot_run(ir: PipelineSpec, pool: WorkerPool, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a lightweight Python component"):
        pool.run(request(ir, "shell-step", tmp_path / "sh", {"msg": "m", "n": 1}))
    with pytest.raises(InvalidInput, match="pass a WorkerPool"):
        run_task(request(ir, "inc", tmp_path / "inc", {"x": 1}))
    assert ok(run_task(request(ir, "inc", tmp_path / "inc2", {"x": 1}), pool)).parameters == {
        "Output": 2
    }
    closed = WorkerPool(1)
    closed.close()
    with pytest.raises(Conflict):
        closed.run(request(ir, "inc", tmp_path / "inc3", {"x": 1}))


def test_workers_start_on_demand_and_stop_on_close(ir: PipelineSpec, tmp_path: Path) -> None:
    lazy = WorkerPool(1)
    try:
        assert lazy.alive == 0
        assert ok(lazy.run(request(ir, "inc", tmp_path / "a", {"x": 41}))).parameters == {
            "Output": 42
        }
        assert lazy.alive == 1
    finally:
        lazy.close()
    assert lazy.alive == 0


def test_warm_overhead(ir: PipelineSpec, pool: WorkerPool, tmp_path: Path) -> None:
    """Per-task wall time of a trivial component in the warm pool (printed, not asserted)."""
    requests = [request(ir, "inc", tmp_path / f"w{i}", {"x": i}) for i in range(60)]
    for r in requests[:10]:
        ok(pool.run(r))
    times = []
    for r in requests[10:]:
        start = time.perf_counter()
        ok(pool.run(r))
        times.append(time.perf_counter() - start)
    print(
        f"\nwarm pool, trivial component: median {statistics.median(times) * 1e3:.2f} ms, "
        f"p90 {sorted(times)[int(len(times) * 0.9)] * 1e3:.2f} ms per task"
    )


def test_close_stops_a_running_task(ir: PipelineSpec, tmp_path: Path) -> None:
    closing = WorkerPool(1)
    closing.start()
    with ThreadPoolExecutor(1) as thread:
        future = thread.submit(
            closing.run, request(ir, "sleepy", tmp_path / "s", {"seconds": 30.0})
        )
        time.sleep(0.5)
        start = time.perf_counter()
        closing.close()
        result = future.result(timeout=20)
    assert time.perf_counter() - start < 5
    assert result.state is TaskState.FAILED and "worker pool was closed" in str(result.error)
    assert closing.alive == 0
