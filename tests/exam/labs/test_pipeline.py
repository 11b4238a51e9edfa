"""Lab cached-pipeline: a run of dependent tasks over the dataset parameter, then a rerun from
the cache (a --no-cache rerun does not count)."""

from __future__ import annotations

from pathlib import Path

from pmle.exam import labs

PIPELINE = """
from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output
from pmle.pipelines.components import validate_data


@dsl.component(base_image="python:3.11")
def summarize(data: Input[Dataset], metrics: Output[Metrics]) -> int:
    import pandas as pd
    frame = pd.read_parquet(data.path)
    metrics.log_metric("rows", len(frame))
    return len(frame)


@dsl.pipeline(name="nightly-orders")
def nightly(dataset: str = "orders"):
    checked = validate_data(dataset=dataset)
    summarize(data=checked.outputs["data"])
"""

LONELY = """
from kfp import dsl


@dsl.component(base_image="python:3.11")
def hello(name: str) -> str:
    return "hello " + name


@dsl.pipeline(name="lonely")
def lonely(name: str = "orders"):
    hello(name=name)
"""


def test_cached_pipeline_lab(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    ws = labs.start("cached-pipeline", folder)
    assert ws.datasets.get("orders").num_rows == 1000
    fresh = labs.check("cached-pipeline", folder)
    assert [c.passed for c in fresh] == [False] * 3
    assert "pmle pipelines run pipeline.py" in fresh[0].detail

    (folder / "lonely.py").write_text(LONELY)
    assert ws.pipelines.run(folder / "lonely.py").succeeded
    one_task = labs.check("cached-pipeline", folder)
    assert [c.passed for c in one_task] == [False, False, False]
    assert "lonely: 1 task(s)" in one_task[0].detail

    (folder / "pipeline.py").write_text(PIPELINE)
    first = ws.pipelines.run(folder / "pipeline.py")
    assert first.succeeded, first.error
    ran = labs.check("cached-pipeline", folder)
    assert [c.passed for c in ran] == [True, True, False]
    assert "'dataset': 'orders'" in ran[1].detail  # the parameter's default counts

    assert ws.pipelines.run(folder / "pipeline.py", no_cache=True).succeeded
    assert not labs.check("cached-pipeline", folder)[2].passed

    again = ws.pipelines.run(folder / "pipeline.py", {"dataset": "orders"})
    assert again.succeeded and all(t["cacheHit"] for t in again.tasks if not t["isGroup"])
    solved = labs.check("cached-pipeline", folder)
    assert all(c.passed for c in solved), solved
    assert f"run {again.id}: 2 of 2 task(s) from cache" == solved[2].detail
    ws.close()
