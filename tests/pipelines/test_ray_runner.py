"""`--runner ray`: pipeline tasks as Ray tasks on a real local Ray."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmle.errors import InvalidInput
from pmle.workspace import Workspace

pytest.importorskip("kfp")
ray = pytest.importorskip("ray")

SOURCE = """
from kfp import dsl
from kfp.dsl import Dataset, Input, Output


@dsl.component(base_image="python:3.11")
def make(n: int, ds: Output[Dataset]) -> str:
    with open(ds.path, "w") as f:
        f.write(str(n * 3))
    import os
    return os.environ["PMLE_WORKSPACE"]


@dsl.component(base_image="python:3.11")
def read(ds: Input[Dataset]) -> int:
    import ray
    assert ray.is_initialized()  # it runs inside a Ray worker
    with open(ds.path) as f:
        return int(f.read()) + 1


@dsl.container_component
def shout(word: str, out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(
        image="alpine", command=["sh", "-c", 'mkdir -p "$(dirname "$1")"; echo -n "$0!" > "$1"'],
        args=[word, out],
    )


@dsl.pipeline(name="on-ray")
def on_ray(n: int = 2) -> int:
    made = make(n=n).set_cpu_limit("1").set_memory_limit("200M")
    shout(word="hey")
    return read(ds=made.outputs["ds"]).output
"""


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, object_store_memory=100 * 1024**2, include_dashboard=False)
    yield ray
    ray.shutdown()


def test_tasks_run_as_ray_tasks(ws: Workspace, tmp_path: Path, local_ray) -> None:
    path = tmp_path / "on_ray.py"
    path.write_text(SOURCE)
    run = ws.pipelines.run(path, {"n": 4}, runner="ray", no_cache=True)
    tasks = {t["name"]: t for t in run.tasks}
    assert run.succeeded, [t["error"] for t in tasks.values()]
    assert tasks["make"]["parameters"]["Output"] == str(ws.root)
    assert tasks["shout"]["parameters"]["out"] == "hey!"
    assert run.result["outputs"]["parameters"]["Output"] == 13
    assert run.options["runner"] == "ray"
    assert local_ray.is_initialized()  # a session the caller started is left running


def test_failure_and_bad_runner(ws: Workspace, tmp_path: Path, local_ray) -> None:
    path = tmp_path / "fails.py"
    path.write_text(
        "from kfp import dsl\n\n@dsl.component(base_image='python:3.11')\n"
        "def boom():\n    raise ValueError('bad on ray')\n\n"
        "@dsl.pipeline(name='boom')\ndef p():\n    boom()\n"
    )
    run = ws.pipelines.run(path, runner="ray")
    assert run.state == "FAILED" and "bad on ray" in (run.tasks[0]["error"] or "")
    with pytest.raises(InvalidInput, match="unknown runner"):
        ws.pipelines.run(path, runner="spark")
