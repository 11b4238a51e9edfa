"""Pipeline tasks in the lineage graph.

Each leaf task that ran (or was taken from the cache) is one execution of type `PipelineTask`
(state COMPLETE, CACHED or FAILED), named `<run name>/<task key>`, with its input and output
artifacts as edges, and both put in the run's `PipelineRun` context. A pipeline artifact is
one lineage node per URI (type: its schema title, e.g. `system.Model`): a task downstream of
it, or a later run that hits the cache, links the same node.

A component that reads or writes workspace resources tells the runner so through its output
artifacts' metadata (see :mod:`pmle.pipelines.components`): `pmle_inputs`, a list of lineage
artifact ids the task read (e.g. a dataset version), becomes INPUT edges; `pmle_outputs`
(ids it created, e.g. a registered model version) becomes OUTPUT edges. So `pmle lineage
MODEL@V` walks from a model a pipeline registered back through its tasks to the dataset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from pmle.pipelines.executor_input import ArtifactRef
    from pmle.storage.lineage import Lineage

__all__ = ["INPUTS_KEY", "OUTPUTS_KEY", "TASK_TYPE", "artifact_id_for_uri", "record_task"]

TASK_TYPE = "PipelineTask"
RUN_CONTEXT = "PipelineRun"
INPUTS_KEY = "pmle_inputs"
OUTPUTS_KEY = "pmle_outputs"


def artifact_id_for_uri(conn: Connection, uri: str) -> int | None:
    """The newest lineage artifact with this URI (a pipeline artifact), or None."""
    import sqlalchemy as sa

    from pmle.storage import schema as t

    return conn.execute(
        sa.select(t.artifacts.c.id)
        .where(t.artifacts.c.uri == uri)
        .order_by(t.artifacts.c.id.desc())
        .limit(1)
    ).scalar()


def _node(conn: Connection, lineage: Lineage, ref: ArtifactRef, name: str) -> int:
    found = artifact_id_for_uri(conn, ref.uri)
    if found is not None:
        return found
    props = {"metadata": _plain(ref.metadata)} if ref.metadata else {}
    return lineage.add_artifact(conn, ref.schema_title, name=name, uri=ref.uri, properties=props)


def _ids(refs: Iterable[ArtifactRef], key: str) -> list[int]:
    out: list[int] = []
    for ref in refs:
        for value in ref.metadata.get(key) or ():
            if isinstance(value, (int, float)) and int(value) not in out:
                out.append(int(value))
    return out


def _plain(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def record_task(
    conn: Connection,
    lineage: Lineage,
    *,
    run_name: str,
    run_id: int,
    key: str,
    component: str,
    state: str,
    parameters: Mapping[str, Any],
    inputs: Mapping[str, list[ArtifactRef]],
    outputs: Mapping[str, list[ArtifactRef]],
) -> int:
    """Record one finished leaf task (`state`: COMPLETE, CACHED or FAILED) in `conn`'s
    transaction; returns the execution id."""
    task_name = f"{run_name}/{key}"
    in_edges: list[tuple[int, str | None]] = []
    for role, refs in inputs.items():
        for ref in refs:
            in_edges.append((_node(conn, lineage, ref, f"{task_name}:{role}"), role))
    out_edges: list[tuple[int, str | None]] = []
    for role, refs in outputs.items():
        for ref in refs:
            out_edges.append((_node(conn, lineage, ref, f"{task_name}:{role}"), role))
    written = [r for refs in outputs.values() for r in refs]
    seen = {a for a, _ in in_edges} | {a for a, _ in out_edges}
    in_edges += [(i, "pmle_input") for i in _ids(written, INPUTS_KEY) if i not in seen]
    out_edges += [(i, "pmle_output") for i in _ids(written, OUTPUTS_KEY) if i not in seen]
    execution = lineage.record_execution(
        conn,
        TASK_TYPE,
        name=task_name,
        inputs=in_edges,
        outputs=out_edges,
        properties={
            "run_id": run_id,
            "run_name": run_name,
            "task": key,
            "component": component,
            "parameters": _plain(dict(parameters)),
        },
        state=state,
    )
    lineage.attribute(
        conn,
        RUN_CONTEXT,
        run_name,
        artifact_ids=sorted({a for a, _ in in_edges + out_edges}),
        execution_ids=[execution],
    )
    return execution
