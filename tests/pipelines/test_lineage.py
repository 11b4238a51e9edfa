"""Pipeline tasks recorded in the lineage graph."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pmle.pipelines.lineage import artifact_id_for_uri
from pmle.workspace import Workspace

pytest.importorskip("kfp")

_spec = importlib.util.spec_from_file_location(
    "pmle_runs_pipeline_lineage", Path(__file__).parent / "runs_pipeline.py"
)
assert _spec is not None and _spec.loader is not None
src = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(src)


def test_tasks_are_executions_linked_by_artifacts(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "p.py"
    path.write_text(src.SOURCE)
    run = ws.pipelines.run(path, {"n": 2})
    assert run.succeeded
    tasks = {t["name"]: t for t in run.tasks}
    uri = tasks["make"]["artifacts"]["ds"][0]["uri"]
    with ws.engine.connect() as conn:
        node = artifact_id_for_uri(conn, uri)
    assert node is not None
    (producer,) = ws.lineage.producers(node)
    assert producer.type == "PipelineTask" and producer.name == f"{run.run_name}/root/make"
    assert producer.state == "COMPLETE" and producer.properties["parameters"] == {"n": 2}
    (consumer,) = ws.lineage.consumers(node)
    assert consumer.name == f"{run.run_name}/root/consume"
    assert ws.lineage.artifact(node).type == "system.Dataset"

    # a cached rerun records CACHED executions of the same artifact node
    again = ws.pipelines.run(path, {"n": 2})
    producers = ws.lineage.producers(node)
    assert {(p.name, p.state) for p in producers} == {
        (f"{run.run_name}/root/make", "COMPLETE"),
        (f"{again.run_name}/root/make", "CACHED"),
    }
    graph = ws.lineage.upstream(node)
    assert {e.name for e in graph.executions.values()} >= {f"{run.run_name}/root/make"}


def test_failed_task_is_a_failed_execution(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "fails.py"
    path.write_text(src.FAILING)
    run = ws.pipelines.run(path)
    import sqlalchemy as sa

    from pmle.storage import schema as t

    with ws.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.executions.c.name, t.executions.c.state).where(
                t.executions.c.type == "PipelineTask"
            )
        ).all()
    assert [tuple(r) for r in rows] == [(f"{run.run_name}/root/boom", "FAILED")]


LINKED = """
from kfp import dsl
from kfp.dsl import Dataset, Output


@dsl.component(base_image="python:3.11")
def load(source_id: int, made_id: int, ds: Output[Dataset]):
    with open(ds.path, "w") as f:
        f.write("x")
    ds.metadata["pmle_inputs"] = [source_id]
    ds.metadata["pmle_outputs"] = [made_id]


@dsl.pipeline(name="linked")
def linked(source_id: int, made_id: int):
    load(source_id=source_id, made_id=made_id)
"""


def test_components_name_workspace_artifacts_they_read_and_made(
    ws: Workspace, tmp_path: Path
) -> None:
    with ws.engine.begin() as conn:
        source = ws.lineage.add_artifact(conn, "Dataset", name="churn@1")
        made = ws.lineage.add_artifact(conn, "Model", name="churn@3")
    path = tmp_path / "linked.py"
    path.write_text(LINKED)
    assert ws.pipelines.run(path, {"source_id": source, "made_id": made}).succeeded
    graph = ws.lineage.upstream(made)
    names = {a.name for a in graph.artifacts.values()}
    assert "churn@1" in names  # churn@3 ← load task ← churn@1
    (task,) = graph.executions.values()
    assert task.name.endswith("/root/load")
