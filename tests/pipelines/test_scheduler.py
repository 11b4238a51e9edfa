"""run_pipeline on real compiled kfp pipelines."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kfp")

from pmle.errors import InvalidInput
from pmle.pipelines.executor_input import ArtifactRef
from pmle.pipelines.ir import PipelineSpec, load_pipeline
from pmle.pipelines.limits import ResourceLimiter
from pmle.pipelines.scheduler import PipelineRunResult, run_pipeline
from pmle.pipelines.workers import WorkerPool

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Any:
    spec = importlib.util.spec_from_file_location(
        "pmle_kfp_scheduler_pipelines", HERE / "kfp_scheduler_pipelines.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = tmp_path_factory.mktemp("compiled")

    def get(name: str) -> PipelineSpec:
        return load_pipeline(module.compile_pipeline(name, folder))

    return get


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(2) as workers:
        workers.start()
        yield workers


def run(
    compiled: Any, pool: WorkerPool, tmp_path: Path, name: str, **args: Any
) -> PipelineRunResult:
    return run_pipeline(compiled(name), args, root_dir=tmp_path / "run", pool=pool)


def states(result: PipelineRunResult) -> dict[str, str]:
    return {key: rec.state for key, rec in result.tasks.items()}


def test_linear_chain(compiled: Any, pool: WorkerPool, tmp_path: Path) -> None:
    events: list[tuple[str, str]] = []
    result = run_pipeline(
        compiled("linear"),
        {"n": 4},
        root_dir=tmp_path / "run",
        pool=pool,
        on_event=lambda kind, rec: events.append((kind, rec.key)),
    )
    assert result.succeeded, result.tasks
    assert result.parameters == {"Output": "0,1,2,3|8"}
    make = result.tasks["root/make"]
    assert make.attempts == 1 and make.artifacts["ds"][0].path.startswith(str(tmp_path / "run"))
    assert make.log_path is not None and make.log_path.is_file()
    assert ("task_finished", "root/consume") in events


def test_arguments_checked_before_running(compiled: Any, pool: WorkerPool, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="required"):
        run(compiled, pool, tmp_path, "conditions")
    with pytest.raises(InvalidInput, match="no inputs"):
        run(compiled, pool, tmp_path, "linear", bogus=1)
    with pytest.raises(InvalidInput, match="integer"):
        run(compiled, pool, tmp_path, "linear", n="x")
    assert not (tmp_path / "run" / "root").exists()


def test_independent_branches_overlap(compiled: Any, pool: WorkerPool, tmp_path: Path) -> None:
    result = run(compiled, pool, tmp_path, "branches")
    assert result.succeeded
    spans = [tuple(map(float, r.parameters["Output"].split(","))) for r in result.tasks.values()]
    assert len(spans) == 2
    (s1, e1), (s2, e2) = spans
    assert s1 < e2 and s2 < e1  # the two sleeps overlapped


@pytest.mark.parametrize(("x", "branch"), [(-5, "neg"), (0, "zero"), (7, "pos")])
def test_if_elif_else(compiled: Any, pool: WorkerPool, tmp_path: Path, x: int, branch: str) -> None:
    result = run(compiled, pool, tmp_path, "conditions", x=x)
    assert result.succeeded, result.tasks
    assert result.parameters == {"Output": branch}
    said = {k: r for k, r in result.tasks.items() if k.endswith(("say", "say-2", "say-3"))}
    ran = [r for r in said.values() if r.state == "SUCCEEDED"]
    assert len(ran) == 1 and ran[0].parameters["Output"] == branch
    skipped = [r for r in result.tasks.values() if r.state == "SKIPPED"]
    assert len(skipped) == 2 and all(r.is_group for r in skipped)


def test_parallel_for_collected(compiled: Any, pool: WorkerPool, tmp_path: Path) -> None:
    result = run(compiled, pool, tmp_path, "loop", xs=[3, 1, 4, 1, 5])
    assert result.succeeded, result.tasks
    assert result.parameters == {"Output": "9,1,16,1,25"}
    loop_key = next(k for k in result.tasks if k.startswith("root/for-loop") and k.count("/") == 1)
    for i in range(5):
        assert result.tasks[f"{loop_key}/iteration-{i}/square"].state == "SUCCEEDED"


def test_exit_handler_after_failure(compiled: Any, pool: WorkerPool, tmp_path: Path) -> None:
    result = run(compiled, pool, tmp_path, "exit")
    assert result.state == "FAILED"
    st = states(result)
    assert st["root/exit-handler-1/boom"] == "FAILED"
    assert st["root/exit-handler-1/say"] == "SKIPPED"
    assert st["root/exit-handler-1"] == "FAILED"
    fin = result.tasks["root/final"]
    assert fin.state == "SUCCEEDED"
    assert fin.parameters["Output"] == "FAILED exit-handler-1 1"


def test_failure_skips_dependents(compiled: Any, pool: WorkerPool, tmp_path: Path) -> None:
    result = run(compiled, pool, tmp_path, "failing")
    assert result.state == "FAILED"
    st = states(result)
    assert st == {"root/boom": "FAILED", "root/say": "SKIPPED", "root/say-2": "SUCCEEDED"}
    assert "boom 2" in (result.tasks["root/boom"].error or "")


def test_retry_flaky(compiled: Any, pool: WorkerPool, tmp_path: Path) -> None:
    events: list[str] = []
    result = run_pipeline(
        compiled("retry"),
        {"marker": str(tmp_path / "marker")},
        root_dir=tmp_path / "run",
        pool=pool,
        on_event=lambda kind, rec: events.append(kind),
    )
    assert result.succeeded, result.tasks
    assert result.tasks["root/flaky"].attempts == 2
    assert events == ["task_started", "task_retrying", "task_finished"]


def test_unsupported_refused_before_running(pool: WorkerPool, tmp_path: Path) -> None:
    spec = load_pipeline(ROOT / "docs/pipelines/examples/p3_misc.yaml")
    with pytest.raises(InvalidInput, match="accelerator"):
        run_pipeline(spec, {}, root_dir=tmp_path / "run", pool=pool)
    assert not (tmp_path / "run").exists()


def test_nested_pipeline(compiled: Any, pool: WorkerPool, tmp_path: Path) -> None:
    result = run(compiled, pool, tmp_path, "outer", x=5)
    assert result.succeeded, result.tasks
    assert result.parameters == {"Output": 25}
    assert result.tasks["root/inner/square"].state == "SUCCEEDED"


def test_example_p4_linear(pool: WorkerPool, tmp_path: Path) -> None:
    spec = load_pipeline(ROOT / "docs/pipelines/examples/p4_linear.yaml")
    result = run_pipeline(spec, {"x": 10}, root_dir=tmp_path / "run", pool=pool)
    assert result.succeeded, result.tasks
    assert result.parameters == {"Output": 15}
    assert all(r.state == "SUCCEEDED" for r in result.tasks.values())


def spans_of(result: PipelineRunResult) -> list[tuple[float, float]]:
    return [
        (float(a), float(b))
        for r in result.tasks.values()
        if not r.is_group
        for a, b in [r.parameters["Output"].split(",")]
    ]


def most_at_once(spans: list[tuple[float, float]]) -> int:
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


def test_parallelism_limit(compiled: Any, tmp_path: Path) -> None:
    with WorkerPool(4) as big:
        result = run(compiled, big, tmp_path, "limited")
    assert result.succeeded, result.tasks
    spans = spans_of(result)
    assert len(spans) == 4 and most_at_once(spans) == 2


def test_max_parallel_one(compiled: Any, pool: WorkerPool, tmp_path: Path) -> None:
    result = run_pipeline(
        compiled("branches"), {}, root_dir=tmp_path / "run", pool=pool, max_parallel=1
    )
    assert result.succeeded and most_at_once(spans_of(result)) == 1


def test_collected_artifacts(compiled: Any, pool: WorkerPool, tmp_path: Path) -> None:
    result = run(compiled, pool, tmp_path, "fan_in_artifacts")
    assert result.succeeded, result.tasks
    assert result.tasks["root/join"].parameters == {"Output": "5,6,7"}


@pytest.mark.parametrize(
    "name", ["p1_types_artifacts", "p2_control_flow", "p3_misc", "p7_tiny", "p8_oneof_artifacts"]
)
def test_examples_run(pool: WorkerPool, tmp_path: Path, name: str) -> None:
    spec = load_pipeline(ROOT / f"docs/pipelines/examples/{name}.yaml")
    result = run_pipeline(spec, {}, root_dir=tmp_path, pool=pool, allow_accelerators=True)
    assert result.succeeded, {k: r.error for k, r in result.tasks.items() if r.error}


def test_example_p5_with_input_artifact(pool: WorkerPool, tmp_path: Path) -> None:
    spec = load_pipeline(ROOT / "docs/pipelines/examples/p5_extras.yaml")
    model = ArtifactRef("m", str(tmp_path / "model"), schema_title="system.Model")
    result = run_pipeline(spec, {"m": model}, root_dir=tmp_path / "run", pool=pool)
    assert result.succeeded
    assert result.tasks["root/use-model"].parameters["Output"] == f"{tmp_path / 'model'} v1"
    nested = result.tasks["root/for-loop-5"].parameters  # nested Collected: lists of lists
    assert list(nested.values()) == [[["1-10", "1-20"], ["2-10", "2-20"]]]


def test_cpu_limits_are_counted(compiled: Any, pool: WorkerPool, tmp_path: Path) -> None:
    spec = compiled("cpu_bound")
    one_core = ResourceLimiter(cpu=1)
    result = run_pipeline(spec, {}, root_dir=tmp_path / "a", pool=pool, limiter=one_core)
    assert result.succeeded and most_at_once(spans_of(result)) == 1
    two_cores = ResourceLimiter(cpu=2)
    result = run_pipeline(
        spec, {"cpu": "500m"}, root_dir=tmp_path / "b", pool=pool, limiter=two_cores
    )
    assert result.succeeded and most_at_once(spans_of(result)) == 2


def test_a_large_loop_keeps_threads_bounded(
    pool: WorkerPool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from pmle.pipelines import scheduler

    monkeypatch.setattr(scheduler, "MAX_LIVE_ITERATIONS", 4)
    source = tmp_path / "big_loop.py"
    source.write_text(
        "from kfp import dsl\n\n"
        "@dsl.component(base_image='python:3.11')\n"
        "def sq(x: int) -> int:\n    return x * x\n\n"
        "@dsl.component(base_image='python:3.11')\n"
        "def total(xs: list) -> int:\n    return sum(xs)\n\n"
        "@dsl.pipeline(name='big-loop')\n"
        "def big() -> int:\n"
        "    with dsl.ParallelFor(items=list(range(40))) as i:\n"
        "        t = sq(x=i)\n"
        "    return total(xs=dsl.Collected(t.output)).output\n"
    )
    from pmle.pipelines.compile import load_any

    peak = [0]
    seen = threading.Event()

    def watch() -> None:
        while not seen.is_set():
            peak[0] = max(peak[0], threading.active_count())
            seen.wait(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    before = threading.active_count()
    result = run_pipeline(load_any(source), {}, root_dir=tmp_path / "run", pool=pool)
    seen.set()
    assert result.succeeded and result.parameters["Output"] == sum(i * i for i in range(40))
    # 4 iterations (1 thread each + 1 task coordinator) + the loop's own threads + leaves
    assert peak[0] - before < 20
