"""The tracking tables, read and written (SQLAlchemy Core over the metadata database).

Writes are one short transaction each. The latest value of each metric is kept beside the
curve (`run_latest_metrics`, upserted with the curve's point when its step is not older), so
searching and sorting 10,000 runs by a metric is an indexed join, not a scan of every point.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from pmle._util import as_utc, owner_alive, this_host, utcnow
from pmle.errors import AlreadyExists, InvalidInput, NotFound
from pmle.storage import schema as t
from pmle.tracking.records import Experiment, MetricPoint, RunInfo
from pmle.tracking.search import parse_filter, parse_order
from pmle.tracking.search_sql import search_query

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from pmle.storage.lineage import Lineage

__all__ = ["TrackingStore"]

#: SQLite's default limit on bound parameters is 32766; stay well under it per IN list
_CHUNK = 900
RUN_TYPE = "ExperimentRun"
CONTEXT_TYPE = "Experiment"


@functools.cache
def _queries() -> SimpleNamespace:
    """The read statements, built once: SQLAlchemy then reuses their compiled form, where a
    statement built per call costs more than SQLite takes to run it."""
    import sqlalchemy as sa

    r, e = t.tracking_runs, t.experiments
    ids: Any = sa.bindparam("ids", expanding=True)
    # parameters, tags and latest metrics of the runs in one statement:
    # (kind, run, key, text value, number value)
    keyed = sa.union_all(
        *(
            sa.select(
                sa.literal(kind).label("kind"),
                table.c.run_id,
                table.c.key,
                (sa.null() if kind == "metrics" else table.c.value).label("text"),
                (table.c.value if kind == "metrics" else sa.null()).label("number"),
            ).where(table.c.run_id.in_(ids))
            for kind, table in (
                ("params", t.run_params),
                ("tags", t.run_tags),
                ("metrics", t.run_latest_metrics),
            )
        )
    )
    a, ev, art = t.run_artifacts, t.events, t.artifacts
    m = t.run_metrics
    return SimpleNamespace(
        runs=sa.select(r, e.c.name.label("experiment"))
        .select_from(r.join(e, r.c.experiment_id == e.c.id))
        .where(r.c.id.in_(ids)),
        running=sa.select(r.c.id, r.c.owner_host, r.c.owner_pid).where(
            r.c.status == "RUNNING", r.c.owner_host == sa.bindparam("host")
        ),
        history=sa.select(m.c.step, m.c.value, m.c.timestamp)
        .where(m.c.run_id == sa.bindparam("run_id"), m.c.key == sa.bindparam("key"))
        .order_by(m.c.step, m.c.timestamp),
        exists=sa.select(r.c.id).where(r.c.id == sa.bindparam("run_id")),
        param_values=sa.select(t.run_params.c.key, t.run_params.c.value).where(
            t.run_params.c.run_id == sa.bindparam("run_id"),
            t.run_params.c.key.in_(sa.bindparam("keys", expanding=True)),
        ),
        end=r.update()
        .where(r.c.id == sa.bindparam("run_id"), r.c.status == "RUNNING")
        .values(
            status=sa.bindparam("new_status"),
            error=sa.bindparam("error"),
            ended_at=sa.bindparam("ended_at"),
        ),
        keyed=keyed,
        artifacts=sa.select(a.c.path, a.c.key, a.c.size, a.c.is_dir)
        .where(a.c.run_id == sa.bindparam("run_id"))
        .order_by(a.c.path),
        events=sa.select(art.c.name, art.c.uri, ev.c.type)
        .select_from(ev.join(art, ev.c.artifact_id == art.c.id))
        .where(ev.c.execution_id == sa.bindparam("execution_id"))
        .order_by(ev.c.id),
    )


@functools.cache
def _upsert_statement(
    dialect: str, table: Any, keys: tuple[str, ...], update: tuple[str, ...], newer: bool
) -> Any:
    """INSERT … ON CONFLICT DO UPDATE for SQLite / PostgreSQL, built once (None elsewhere)."""
    insert: Any
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        return None
    stmt = insert(table)
    where = stmt.excluded.step >= table.c.step if newer else None
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}, where=where
    )


@functools.cache
def _inserts() -> SimpleNamespace:
    """Plain inserts, built once."""
    return SimpleNamespace(metrics=t.run_metrics.insert(), params=t.run_params.insert())


_COMPILED: dict[tuple[int, str], tuple[str, list[str]]] = {}


def _compiled(statement: Any, dialect: Any) -> tuple[str, list[str]]:
    """(SQL text in the driver's parameter style, the names of its positional parameters in
    order — none for drivers that take named ones) of a statement."""
    key = (id(statement), dialect.name)
    found = _COMPILED.get(key)
    if found is None:
        compiled = statement.compile(dialect=dialect)
        names = list(compiled.positiontup or [])  # empty: the driver takes named parameters
        found = _COMPILED[key] = (str(compiled), names)
    return found


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


class TrackingStore:
    def __init__(self, engine: Engine, lineage: Lineage) -> None:
        self._engine = engine
        self._lineage = lineage

    # -- experiments --------------------------------------------------------------------------

    def experiment_id(self, conn: Connection, name: str, *, create: bool) -> int:
        import sqlalchemy as sa

        found = conn.execute(
            sa.select(t.experiments.c.id).where(t.experiments.c.name == name)
        ).scalar()
        if found is not None:
            return int(found)
        if not create:
            raise NotFound(f"no experiment named {name!r}", hint="pmle experiments list")
        res = conn.execute(
            t.experiments.insert().values(name=name, description="", tags={}, created_at=utcnow())
        )
        return int(res.inserted_primary_key[0])  # type: ignore[index]

    def create_experiment(
        self, name: str, description: str, tags: dict[str, str], *, exist_ok: bool
    ) -> None:
        import sqlalchemy as sa

        with self._engine.begin() as conn:
            found = conn.execute(
                sa.select(t.experiments.c.id).where(t.experiments.c.name == name)
            ).scalar()
            if found is not None:
                if exist_ok:
                    return
                raise AlreadyExists(f"experiment {name!r} exists")
            conn.execute(
                t.experiments.insert().values(
                    name=name, description=description, tags=tags, created_at=utcnow()
                )
            )

    def experiments(self, name: str | None = None) -> list[Experiment]:
        import sqlalchemy as sa

        e, r = t.experiments, t.tracking_runs
        counts = (
            sa.select(
                r.c.experiment_id,
                sa.func.count().label("n"),
                sa.func.max(r.c.started_at).label("last"),
            )
            .group_by(r.c.experiment_id)
            .subquery()
        )
        query = (
            sa.select(e, counts.c.n, counts.c.last)
            .select_from(e.outerjoin(counts, counts.c.experiment_id == e.c.id))
            .order_by(e.c.name)
        )
        if name is not None:
            query = query.where(e.c.name == name)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Experiment(
                id=row.id,
                name=row.name,
                description=row.description,
                tags=dict(row.tags or {}),
                created_at=as_utc(row.created_at),
                run_count=int(row.n or 0),
                last_run_at=as_utc(row.last),
            )
            for row in rows
        ]

    def experiment_names(self, names: Sequence[str]) -> set[str]:
        """Which of `names` are experiments."""
        import sqlalchemy as sa

        e = t.experiments
        with self._engine.connect() as conn:
            return set(conn.execute(sa.select(e.c.name).where(e.c.name.in_(list(names)))).scalars())

    # -- runs ---------------------------------------------------------------------------------

    def create_run(
        self, experiment: str, name: str, parent_id: int | None, notes: str
    ) -> tuple[int, int]:
        """A RUNNING run and its lineage execution: (run id, execution id)."""
        import sqlalchemy as sa

        r = t.tracking_runs
        with self._engine.begin() as conn:
            exp_id = self.experiment_id(conn, experiment, create=True)
            if parent_id is not None:
                parent_exp = conn.execute(
                    sa.select(r.c.experiment_id).where(r.c.id == parent_id)
                ).scalar()
                if parent_exp is None:
                    raise NotFound(f"no run with id {parent_id} to nest under")
                if int(parent_exp) != exp_id:
                    raise InvalidInput("a nested run belongs to its parent's experiment")
            taken = conn.execute(
                sa.select(r.c.id).where(r.c.experiment_id == exp_id, r.c.name == name)
            ).scalar()
            if taken is not None:
                raise AlreadyExists(f"experiment {experiment!r} already has a run {name!r}")
            execution_id = self._lineage.record_execution(
                conn, RUN_TYPE, name=f"{experiment}/{name}", state="RUNNING"
            )
            self._lineage.attribute(conn, CONTEXT_TYPE, experiment, execution_ids=[execution_id])
            res = conn.execute(
                r.insert().values(
                    experiment_id=exp_id,
                    name=name,
                    parent_id=parent_id,
                    status="RUNNING",
                    notes=notes,
                    execution_id=execution_id,
                    owner_host=this_host(),
                    owner_pid=os.getpid(),
                    started_at=utcnow(),
                )
            )
            return int(res.inserted_primary_key[0]), execution_id  # type: ignore[index]

    def end_run(
        self, run_id: int, status: str, error: str | None, execution_id: int | None
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                _queries().end,
                {"run_id": run_id, "new_status": status, "error": error, "ended_at": utcnow()},
            )
            if execution_id is not None:
                state = "COMPLETE" if status == "FINISHED" else "FAILED"
                self._lineage.finish(conn, execution_id, state)

    def set_notes(self, run_id: int, notes: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                t.tracking_runs.update().where(t.tracking_runs.c.id == run_id).values(notes=notes)
            )

    def link(
        self, execution_id: int, inputs: Iterable[int] = (), outputs: Iterable[int] = ()
    ) -> None:
        with self._engine.begin() as conn:
            self._lineage.link(
                conn,
                execution_id,
                inputs=[(a, "input") for a in inputs],
                outputs=[(a, "output") for a in outputs],
            )

    # -- params, tags, metrics, artifacts -----------------------------------------------------

    def log_params(self, run_id: int, params: dict[str, str]) -> tuple[str, str, str] | None:
        """Insert new parameters; the first one that exists with another value (key, old,
        new), and nothing written, or None."""
        with self._engine.begin() as conn:
            existing = dict(
                conn.execute(
                    _queries().param_values, {"run_id": run_id, "keys": list(params)}
                ).all()
            )
            for key, value in params.items():
                if key in existing and existing[key] != value:
                    return key, existing[key], value
            new = [
                {"run_id": run_id, "key": k, "value": v}
                for k, v in params.items()
                if k not in existing
            ]
            if new:
                conn.execute(_inserts().params, new)
        return None

    def set_tags(self, run_id: int, tags: dict[str, str]) -> None:
        rows = [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]
        with self._engine.begin() as conn:
            self._upsert(conn, t.run_tags, rows, ["run_id", "key"], ["value"])

    def log_metrics(
        self, run_id: int, points: list[tuple[str, int, float | None]], timestamp: float
    ) -> None:
        if not points:
            return
        curve = [
            {"run_id": run_id, "key": k, "step": s, "value": v, "timestamp": timestamp}
            for k, s, v in points
        ]
        latest = [{"run_id": run_id, "key": k, "step": s, "value": v} for k, s, v in points]
        with self._engine.begin() as conn:
            conn.execute(_inserts().metrics, curve)
            self._upsert(
                conn, t.run_latest_metrics, latest, ["run_id", "key"], ["value", "step"], newer=True
            )

    def add_artifact(self, run_id: int, path: str, key: str, size: int, is_dir: bool) -> None:
        row = {
            "run_id": run_id,
            "path": path,
            "key": key,
            "size": size,
            "is_dir": is_dir,
            "created_at": utcnow(),
        }
        with self._engine.begin() as conn:
            self._upsert(
                conn, t.run_artifacts, [row], ["run_id", "path"], ["key", "size", "is_dir"]
            )

    def _upsert(
        self,
        conn: Connection,
        table: Any,
        rows: list[dict[str, Any]],
        keys: list[str],
        update: list[str],
        *,
        newer: bool = False,
    ) -> None:
        """INSERT … ON CONFLICT DO UPDATE (SQLite and PostgreSQL); with `newer`, only rows
        whose step is not older than the stored one replace it."""
        if not rows:
            return
        stmt = _upsert_statement(conn.dialect.name, table, tuple(keys), tuple(update), newer)
        if stmt is None:  # any other database: delete and insert
            self._replace(conn, table, rows, keys, newer=newer)
            return
        conn.execute(stmt, rows)

    def _replace(
        self,
        conn: Connection,
        table: Any,
        rows: list[dict[str, Any]],
        keys: list[str],
        *,
        newer: bool,
    ) -> None:
        import sqlalchemy as sa

        for row in rows:
            match = sa.and_(*(table.c[k] == row[k] for k in keys))
            current = conn.execute(sa.select(table).where(match)).first()
            if current is not None and newer and current.step > row["step"]:
                continue
            conn.execute(table.delete().where(match))
            conn.execute(table.insert().values(**row))

    # -- reading ------------------------------------------------------------------------------

    def run_id(self, ref: int | str) -> int:
        """The id of a run named by its id or `EXPERIMENT/RUN`."""
        import sqlalchemy as sa

        r, e = t.tracking_runs, t.experiments
        with self._engine.connect() as conn:
            if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
                found = conn.execute(_queries().exists, {"run_id": int(ref)}).scalar()
            else:
                experiment, sep, name = str(ref).rpartition("/")
                if not sep or not experiment or not name:
                    raise InvalidInput(
                        f"cannot read the run {ref!r}",
                        hint="name a run by its id or EXPERIMENT/RUN",
                    )
                found = conn.execute(
                    sa.select(r.c.id)
                    .select_from(r.join(e, r.c.experiment_id == e.c.id))
                    .where(e.c.name == experiment, r.c.name == name)
                ).scalar()
        if found is None:
            raise NotFound(f"no run {ref!r}", hint="pmle experiments show EXPERIMENT")
        return int(found)

    def recover(self, only: Sequence[int] | None = None) -> int:
        """Mark RUNNING runs of this host (or just `only`) whose process has gone as FAILED;
        how many."""
        r = t.tracking_runs
        with self._engine.connect() as conn:
            rows = conn.execute(_queries().running, {"host": this_host()}).all()
        if only is not None:
            rows = [row for row in rows if row.id in set(only)]
        dead = [
            row.id
            for row in rows
            if row.owner_pid != os.getpid() and not owner_alive(row.owner_host, row.owner_pid)
        ]
        if dead:
            with self._engine.begin() as conn:
                conn.execute(
                    r.update()
                    .where(r.c.id.in_(dead), r.c.status == "RUNNING")
                    .values(
                        status="FAILED",
                        error="the process running it ended without ending the run",
                        ended_at=utcnow(),
                    )
                )
        return len(dead)

    def search(
        self,
        experiments: Sequence[str] | None,
        filter_text: str | None,
        order_by: Sequence[str] | str | None,
        max_results: int | None,
        parent_id: int | None = None,
    ) -> list[int]:
        """Ids of the runs matching, in order."""
        query = search_query(
            experiments, parse_filter(filter_text), parse_order(order_by), max_results, parent_id
        )
        with self._engine.connect() as conn:
            return [int(v) for v in conn.execute(query).scalars()]

    def load(self, ids: Sequence[int], *, details: bool = False) -> list[RunInfo]:
        """The runs of `ids`, in that order, with params, tags and latest metrics (and with
        `details`, artifacts and lineage inputs)."""

        q = _queries()
        found: dict[int, RunInfo] = {}
        executions: dict[int, int | None] = {}
        with self._engine.connect() as conn:
            for chunk in _chunks(list(ids)):
                bound = {"ids": list(chunk)}
                for row in conn.execute(q.runs, bound).all():
                    found[row.id] = RunInfo(
                        id=row.id,
                        experiment=row.experiment,
                        name=row.name,
                        status=row.status,
                        started_at=as_utc(row.started_at),
                        ended_at=as_utc(row.ended_at),
                        parent_id=row.parent_id,
                        notes=row.notes or "",
                        error=row.error,
                    )
                    executions[row.id] = row.execution_id
                for kind, run_id, key, text, number in conn.execute(q.keyed, bound).all():
                    if kind == "metrics":
                        found[run_id].metrics[key] = float("nan") if number is None else number
                    else:
                        getattr(found[run_id], kind)[key] = text
            if details:
                for run_id, info in found.items():
                    self._details(conn, info, executions[run_id])
        return [found[i] for i in ids if i in found]

    def _details(self, conn: Connection, info: RunInfo, execution_id: int | None) -> None:
        q = _queries()
        for path, key, size, is_dir in conn.execute(q.artifacts, {"run_id": info.id}).all():
            info.artifacts.append({"path": path, "key": key, "size": size, "is_dir": is_dir})
        if execution_id is None:
            return
        for name, uri, kind in conn.execute(q.events, {"execution_id": execution_id}).all():
            label = name or uri or "?"
            info.inputs.append(label if kind == "INPUT" else f"→ {label}")

    def execution_of(self, run_id: int) -> int | None:
        with self._engine.connect() as conn:
            return execution_of_run(conn, run_id)

    def history(self, run_id: int, key: str) -> list[MetricPoint]:
        # A curve can have many points: straight through the DB-API cursor, the statement
        # compiled once per dialect (SQLAlchemy's row objects cost as much as SQLite here).
        sql, names = _compiled(_queries().history, self._engine.dialect)
        bound = {"run_id": run_id, "key": key}
        with self._engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                cursor.execute(sql, [bound[n] for n in names] if names else bound)
                rows = cursor.fetchall()
            finally:
                cursor.close()
        if all(row[1] is not None for row in rows):
            return list(map(MetricPoint._make, rows))
        nan = float("nan")
        return [MetricPoint(s, nan if v is None else v, ts) for s, v, ts in rows]

    def keys(self, experiment: str) -> tuple[list[str], list[str]]:
        """The parameter and metric names any run of `experiment` logged, sorted."""
        import sqlalchemy as sa

        r, e = t.tracking_runs, t.experiments
        runs = sa.select(r.c.id).join(e, e.c.id == r.c.experiment_id).where(e.c.name == experiment)
        out = []
        with self._engine.connect() as conn:
            for table in (t.run_params, t.run_latest_metrics):
                query = (
                    sa.select(table.c.key)
                    .where(table.c.run_id.in_(runs.scalar_subquery()))
                    .distinct()
                    .order_by(table.c.key)
                )
                out.append(list(conn.execute(query).scalars()))
        return out[0], out[1]

    def histories(self, run_ids: Sequence[int]) -> dict[tuple[int, str], list[MetricPoint]]:
        """Every metric curve of the runs, in one query: {(run id, key): points by step}."""
        import sqlalchemy as sa

        m = t.run_metrics
        out: dict[tuple[int, str], list[MetricPoint]] = {}
        if not run_ids:
            return out
        query = (
            sa.select(m.c.run_id, m.c.key, m.c.step, m.c.value, m.c.timestamp)
            .where(m.c.run_id.in_(list(run_ids)))
            .order_by(m.c.run_id, m.c.key, m.c.step, m.c.timestamp)
        )
        nan = float("nan")
        with self._engine.connect() as conn:
            for run_id, key, step, value, ts in conn.execute(query):
                out.setdefault((run_id, key), []).append(
                    MetricPoint(step, nan if value is None else value, ts)
                )
        return out


def execution_of_run(conn: Connection, run_id: int) -> int | None:
    import sqlalchemy as sa

    r = t.tracking_runs
    value = conn.execute(sa.select(r.c.execution_id).where(r.c.id == run_id)).scalar()
    return None if value is None else int(value)
