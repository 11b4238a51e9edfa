"""The lineage graph: artifacts, executions and the input / output events between them.

It answers "what produced this artifact" (:meth:`Lineage.upstream`) and "what was derived from
it" (:meth:`Lineage.downstream`). Writers pass their open transaction so that a resource and its
lineage are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pmle._util import utcnow
from pmle.errors import InvalidInput, NotFound
from pmle.storage import schema as t

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

Direction = Literal["upstream", "downstream"]


@dataclass(frozen=True)
class ArtifactNode:
    """An artifact in the lineage graph (a dataset version, a model version, a file, ...)."""

    id: int
    type: str
    name: str | None
    uri: str | None
    properties: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class ExecutionNode:
    """A step that read and wrote artifacts (an import, a split, a training run, ...)."""

    id: int
    type: str
    name: str | None
    state: str
    properties: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Event:
    """An edge: `artifact_id` was an INPUT to or an OUTPUT of `execution_id`."""

    artifact_id: int
    execution_id: int
    type: str
    path: str | None


@dataclass
class LineageGraph:
    """A connected piece of the lineage graph, rooted at one artifact."""

    root: int
    direction: Direction
    artifacts: dict[int, ArtifactNode] = field(default_factory=dict)
    executions: dict[int, ExecutionNode] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def inputs_of(self, execution_id: int) -> list[ArtifactNode]:
        """Artifacts read by an execution, in this graph."""
        return [
            self.artifacts[e.artifact_id]
            for e in self.events
            if e.execution_id == execution_id
            and e.type == "INPUT"
            and e.artifact_id in self.artifacts
        ]

    def outputs_of(self, execution_id: int) -> list[ArtifactNode]:
        """Artifacts written by an execution, in this graph."""
        return [
            self.artifacts[e.artifact_id]
            for e in self.events
            if e.execution_id == execution_id
            and e.type == "OUTPUT"
            and e.artifact_id in self.artifacts
        ]

    def producers_of(self, artifact_id: int) -> list[ExecutionNode]:
        """Executions that wrote an artifact, in this graph."""
        return [
            self.executions[e.execution_id]
            for e in self.events
            if e.artifact_id == artifact_id
            and e.type == "OUTPUT"
            and e.execution_id in self.executions
        ]

    def consumers_of(self, artifact_id: int) -> list[ExecutionNode]:
        """Executions that read an artifact, in this graph."""
        return [
            self.executions[e.execution_id]
            for e in self.events
            if e.artifact_id == artifact_id
            and e.type == "INPUT"
            and e.execution_id in self.executions
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form of the graph."""
        return {
            "root": self.root,
            "direction": self.direction,
            "artifacts": [_node_dict(a) for a in self.artifacts.values()],
            "executions": [_node_dict(x) for x in self.executions.values()],
            "events": [e.__dict__ for e in self.events],
        }


def _node_dict(node: ArtifactNode | ExecutionNode) -> dict[str, Any]:
    d = dict(node.__dict__)
    d["created_at"] = node.created_at.isoformat()
    return d


class Lineage:
    """Read and write the lineage graph of one metadata database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- writing ----------------------------------------------------------------------------

    def add_artifact(
        self,
        conn: Connection,
        type: str,
        name: str | None = None,
        uri: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> int:
        """Record an artifact; returns its id."""
        res = conn.execute(
            t.artifacts.insert().values(
                type=type, name=name, uri=uri, properties=properties or {}, created_at=utcnow()
            )
        )
        return int(res.inserted_primary_key[0])  # type: ignore[index]

    def record_execution(
        self,
        conn: Connection,
        type: str,
        *,
        name: str | None = None,
        inputs: Iterable[tuple[int, str | None]] = (),
        outputs: Iterable[tuple[int, str | None]] = (),
        properties: dict[str, Any] | None = None,
        state: str = "COMPLETE",
    ) -> int:
        """Record an execution with its input and output artifacts `(artifact_id, role)`."""
        now = utcnow()
        res = conn.execute(
            t.executions.insert().values(
                type=type,
                name=name,
                state=state,
                properties=properties or {},
                created_at=now,
                ended_at=now if state in {"COMPLETE", "FAILED", "CACHED"} else None,
            )
        )
        execution_id = int(res.inserted_primary_key[0])  # type: ignore[index]
        self.link(conn, execution_id, inputs=inputs, outputs=outputs)
        return execution_id

    def link(
        self,
        conn: Connection,
        execution_id: int,
        *,
        inputs: Iterable[tuple[int, str | None]] = (),
        outputs: Iterable[tuple[int, str | None]] = (),
    ) -> None:
        """Add input and output artifacts to an execution already recorded (a running one)."""
        now = utcnow()
        rows = [
            {
                "artifact_id": a,
                "execution_id": execution_id,
                "type": kind,
                "path": role,
                "created_at": now,
            }
            for kind, edges in (("INPUT", inputs), ("OUTPUT", outputs))
            for a, role in edges
        ]
        if rows:
            conn.execute(t.events.insert(), rows)

    def finish(self, conn: Connection, execution_id: int, state: str) -> None:
        """End a running execution with `state` (COMPLETE, FAILED, ...)."""
        conn.execute(
            t.executions.update()
            .where(t.executions.c.id == execution_id)
            .values(state=state, ended_at=utcnow())
        )

    def attribute(
        self,
        conn: Connection,
        context_type: str,
        context_name: str,
        artifact_ids: Sequence[int] = (),
        execution_ids: Sequence[int] = (),
    ) -> int:
        """Put artifacts and executions in a named context (an experiment, a pipeline run)."""
        import sqlalchemy as sa

        ctx = conn.execute(
            sa.select(t.contexts.c.id).where(
                t.contexts.c.type == context_type, t.contexts.c.name == context_name
            )
        ).scalar()
        if ctx is None:
            ctx = conn.execute(
                t.contexts.insert().values(
                    type=context_type, name=context_name, properties={}, created_at=utcnow()
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        for a in artifact_ids:
            conn.execute(
                t.attributions.insert().prefix_with("OR IGNORE", dialect="sqlite"),
                {"context_id": ctx, "artifact_id": a},
            )
        for x in execution_ids:
            conn.execute(
                t.associations.insert().prefix_with("OR IGNORE", dialect="sqlite"),
                {"context_id": ctx, "execution_id": x},
            )
        return int(ctx)

    # -- reading ----------------------------------------------------------------------------

    def artifact(self, artifact_id: int) -> ArtifactNode:
        """One artifact by id."""
        import sqlalchemy as sa

        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(t.artifacts).where(t.artifacts.c.id == artifact_id)
            ).first()
        if row is None:
            raise NotFound(f"no lineage artifact with id {artifact_id}")
        return _artifact(row)

    def find_artifacts(
        self, type: str | None = None, name: str | None = None
    ) -> list[ArtifactNode]:
        """Artifacts by type and / or name, oldest first."""
        import sqlalchemy as sa

        q = sa.select(t.artifacts).order_by(t.artifacts.c.id)
        if type is not None:
            q = q.where(t.artifacts.c.type == type)
        if name is not None:
            q = q.where(t.artifacts.c.name == name)
        with self._engine.connect() as conn:
            return [_artifact(r) for r in conn.execute(q)]

    def producers(self, artifact_id: int) -> list[ExecutionNode]:
        """The executions that produced an artifact (normally one)."""
        return self.upstream(artifact_id, max_depth=1).producers_of(artifact_id)

    def consumers(self, artifact_id: int) -> list[ExecutionNode]:
        """The executions that read an artifact."""
        return self.downstream(artifact_id, max_depth=1).consumers_of(artifact_id)

    def upstream(self, artifact_id: int, max_depth: int | None = None) -> LineageGraph:
        """Everything an artifact was derived from: producers, their inputs, and so on."""
        return self._walk(artifact_id, "upstream", max_depth)

    def downstream(self, artifact_id: int, max_depth: int | None = None) -> LineageGraph:
        """Everything derived from an artifact: consumers, their outputs, and so on."""
        return self._walk(artifact_id, "downstream", max_depth)

    def _walk(self, root: int, direction: Direction, max_depth: int | None) -> LineageGraph:
        import sqlalchemy as sa

        if max_depth is not None and max_depth < 1:
            raise InvalidInput("max_depth must be at least 1")
        # Upstream: artifact <-OUTPUT- execution <-INPUT- artifact; downstream the reverse.
        near, far = ("OUTPUT", "INPUT") if direction == "upstream" else ("INPUT", "OUTPUT")
        graph = LineageGraph(root=root, direction=direction)
        with self._engine.connect() as conn:
            graph.artifacts[root] = _artifact(
                conn.execute(sa.select(t.artifacts).where(t.artifacts.c.id == root)).first()
                or _missing(root)
            )
            frontier, depth = {root}, 0
            while frontier and (max_depth is None or depth < max_depth):
                depth += 1
                near_events = conn.execute(
                    sa.select(t.events).where(
                        t.events.c.artifact_id.in_(frontier), t.events.c.type == near
                    )
                ).all()
                exec_ids = {e.execution_id for e in near_events} - set(graph.executions)
                graph.events.extend(_event(e) for e in near_events)
                if not exec_ids:
                    break
                for row in conn.execute(
                    sa.select(t.executions).where(t.executions.c.id.in_(exec_ids))
                ):
                    graph.executions[row.id] = _execution(row)
                far_events = conn.execute(
                    sa.select(t.events).where(
                        t.events.c.execution_id.in_(exec_ids), t.events.c.type == far
                    )
                ).all()
                graph.events.extend(_event(e) for e in far_events)
                new_ids = {e.artifact_id for e in far_events} - set(graph.artifacts)
                for row in conn.execute(
                    sa.select(t.artifacts).where(t.artifacts.c.id.in_(new_ids))
                ):
                    graph.artifacts[row.id] = _artifact(row)
                frontier = new_ids
        # The same edge can be met twice (from both ends); keep each once, in order.
        seen: set[tuple[int, int, str]] = set()
        unique = []
        for e in graph.events:
            key = (e.artifact_id, e.execution_id, e.type)
            if key not in seen:
                seen.add(key)
                unique.append(e)
        graph.events = unique
        return graph


def _missing(artifact_id: int) -> Any:
    raise NotFound(f"no lineage artifact with id {artifact_id}")


def _artifact(row: Any) -> ArtifactNode:
    return ArtifactNode(
        row.id, row.type, row.name, row.uri, dict(row.properties or {}), row.created_at
    )


def _execution(row: Any) -> ExecutionNode:
    return ExecutionNode(
        row.id, row.type, row.name, row.state, dict(row.properties or {}), row.created_at
    )


def _event(row: Any) -> Event:
    return Event(row.artifact_id, row.execution_id, row.type, row.path)
