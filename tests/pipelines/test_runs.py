"""Pipeline runs of a workspace: compiling .py pipelines, the task cache, run records."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from pmle.errors import InvalidInput, NotFound
from pmle.pipelines.compile import load_any, split_spec
from pmle.pipelines.runs import parse_params
from pmle.workspace import Workspace

pytest.importorskip("kfp")

_spec = importlib.util.spec_from_file_location(
    "pmle_runs_pipeline", Path(__file__).parent / "runs_pipeline.py"
)
assert _spec is not None and _spec.loader is not None
src = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(src)


@pytest.fixture
def pipeline_py(tmp_path: Path) -> Path:
    path = tmp_path / "demo_pipeline.py"
    path.write_text(src.SOURCE)
    return path


def _by_name(run) -> dict[str, dict]:
    return {t["name"]: t for t in run.tasks if not t["isGroup"]}


def test_split_spec() -> None:
    assert split_spec("a/b.py:demo") == (Path("a/b.py"), "demo")
    assert split_spec("a/b.yaml") == (Path("a/b.yaml"), None)


def test_load_any_compiles_python_and_reads_yaml(pipeline_py: Path, tmp_path: Path) -> None:
    spec = load_any(pipeline_py)
    assert spec.name == "runs-demo"
    assert load_any(f"{pipeline_py}:demo").name == "runs-demo"
    from kfp import compiler

    # the compiled YAML of the same pipeline loads to the same spec name
    mod_path = tmp_path / "again.py"
    mod_path.write_text(src.SOURCE)
    yaml_path = tmp_path / "demo.yaml"
    ispec = importlib.util.spec_from_file_location("pmle_again", mod_path)
    assert ispec is not None and ispec.loader is not None
    module = importlib.util.module_from_spec(ispec)
    ispec.loader.exec_module(module)
    compiler.Compiler().compile(module.demo, str(yaml_path))
    assert load_any(yaml_path).name == "runs-demo"


def test_load_any_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no pipeline file"):
        load_any(tmp_path / "missing.py")
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(InvalidInput, match="defines no kfp pipeline"):
        load_any(empty)
    two = tmp_path / "two.py"
    two.write_text(src.TWO)
    with pytest.raises(InvalidInput, match="defines 2 pipelines"):
        load_any(two)
    assert load_any(f"{two}:other").name == "other"
    with pytest.raises(InvalidInput, match="defines no 'nope'"):
        load_any(f"{two}:nope")
    broken = tmp_path / "broken.py"
    broken.write_text("import nothing_here_at_all\n")
    with pytest.raises(InvalidInput, match="importing"):
        load_any(broken)
    bad_compile = tmp_path / "bad.py"
    bad_compile.write_text(
        "from kfp import dsl\n\n"
        "@dsl.pipeline(name='bad')\n"
        "def bad(x: int = 1):\n"
        "    raise ValueError('no tasks here')\n"
    )
    with pytest.raises(InvalidInput, match="no tasks here"):
        load_any(bad_compile)
    text = tmp_path / "notes.txt"
    text.write_text("hi")
    with pytest.raises(InvalidInput, match="cannot read a pipeline"):
        load_any(text)


def test_parse_params_types_strings(pipeline_py: Path) -> None:
    spec = load_any(pipeline_py)
    assert parse_params(spec, {"n": "4", "k": 2}) == {"n": 4, "k": 2}
    with pytest.raises(InvalidInput, match="cannot read pipeline input 'n'"):
        parse_params(spec, {"n": "four"})


def test_cache_hits_misses_and_records(ws: Workspace, pipeline_py: Path) -> None:
    first = ws.pipelines.run(pipeline_py, {"n": "3", "k": "1"})
    assert first.succeeded, first.error
    tasks = _by_name(first)
    assert set(tasks) == {"make", "consume", "score"}
    assert not any(t["cacheHit"] for t in tasks.values())
    assert tasks["consume"]["parameters"]["Output"] == "0,1,2!"
    assert first.result["outputs"]["parameters"]["Output"] == "0,1,2!"
    assert Path(first.root_dir) == ws.state_dir / "pipelines" / "runs" / str(first.id)

    second = ws.pipelines.run(pipeline_py, {"n": 3, "k": 1})
    assert second.succeeded
    hits = _by_name(second)
    assert all(t["cacheHit"] and t["attempts"] == 0 for t in hits.values())
    assert {n: t["parameters"] for n, t in hits.items()} == {
        n: t["parameters"] for n, t in tasks.items()
    }
    assert hits["make"]["artifacts"] == tasks["make"]["artifacts"]
    assert hits["make"]["logPath"] is None and Path(tasks["make"]["logPath"]).is_file()
    took = [(r.ended_at - r.started_at).total_seconds() for r in (first, second)]
    assert took[1] < took[0]

    fresh = _by_name(ws.pipelines.run(pipeline_py, {"n": 3, "k": 1}, no_cache=True))
    assert not any(t["cacheHit"] for t in fresh.values())

    # k feeds only `score`: it misses, the make → consume chain hits
    changed = _by_name(ws.pipelines.run(pipeline_py, {"n": 3, "k": 5}))
    assert {n for n, t in changed.items() if t["cacheHit"]} == {"make", "consume"}
    assert changed["score"]["parameters"]["Output"] == 50
    # n feeds make, and consume depends on it: both miss, score hits
    changed = _by_name(ws.pipelines.run(pipeline_py, {"n": 2, "k": 1}))
    assert {n for n, t in changed.items() if t["cacheHit"]} == {"score"}
    assert changed["consume"]["parameters"]["Output"] == "0,1!"

    runs = ws.pipelines.list()
    assert [r.id for r in runs] == [5, 4, 3, 2, 1]
    assert ws.pipelines.get(str(first.id)).tasks == first.tasks
    assert ws.pipelines.list("other") == []


def test_deleted_artifact_forces_rerun(ws: Workspace, pipeline_py: Path) -> None:
    first = ws.pipelines.run(pipeline_py)
    assert first.succeeded
    shutil.rmtree(first.root_dir)
    again = _by_name(ws.pipelines.run(pipeline_py))
    # make's dataset is gone: it runs again, and consume (new input URI) with it; score's
    # output is Metrics (metadata only) and still hits
    assert {n for n, t in again.items() if t["cacheHit"]} == {"score"}
    assert again["consume"]["parameters"]["Output"] == "0,1,2!"


def test_failing_run_is_recorded(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "fails.py"
    path.write_text(src.FAILING)
    run = ws.pipelines.run(path, {"x": "7"})
    assert run.state == "FAILED"
    (boom,) = run.tasks
    assert boom["state"] == "FAILED" and "boom 7" in (boom["error"] or "")
    assert "boom" in (run.error or "")
    assert ws.pipelines.get(run.id).state == "FAILED"


def test_bad_params_and_unknown_run(ws: Workspace, pipeline_py: Path) -> None:
    with pytest.raises(InvalidInput):
        ws.pipelines.run(pipeline_py, {"nope": "1"})
    assert ws.pipelines.list() == []
    with pytest.raises(NotFound):
        ws.pipelines.get(99)
    with pytest.raises(NotFound):
        ws.pipelines.get("abc")


def test_changing_a_components_code_changes_its_cache_key(ws: Workspace, pipeline_py: Path) -> None:
    assert ws.pipelines.run(pipeline_py).succeeded
    # only `consume`'s body changes: it runs again; `make` and `score` still hit
    pipeline_py.write_text(src.SOURCE.replace('.upper() + "!"', '.upper() + "?"'))
    again = _by_name(ws.pipelines.run(pipeline_py))
    assert {n for n, t in again.items() if t["cacheHit"]} == {"make", "score"}
    assert again["consume"]["parameters"]["Output"] == "0,1,2?"


def test_delete_and_prune(ws: Workspace, pipeline_py: Path) -> None:
    first = ws.pipelines.run(pipeline_py)
    second = ws.pipelines.run(pipeline_py, {"n": 5})
    assert Path(first.root_dir).is_dir()
    assert ws.pipelines.prune(3600) == []  # nothing an hour old
    assert [r.id for r in ws.pipelines.prune(0, dry_run=True)] == [first.id, second.id]
    assert Path(first.root_dir).is_dir()
    deleted = ws.pipelines.delete(first.id)
    assert deleted.id == first.id and not Path(first.root_dir).exists()
    with pytest.raises(NotFound):
        ws.pipelines.get(first.id)
    # its cache entries went with it: the same run computes again
    again = _by_name(ws.pipelines.run(pipeline_py))
    assert not any(t["cacheHit"] for t in again.values())
    assert {r.id for r in ws.pipelines.prune(0)} == {second.id, second.id + 1}
    assert ws.pipelines.list() == []
