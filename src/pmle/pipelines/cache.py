"""The task cache of pipeline runs: :class:`PipelineCache` (the scheduler's TaskCache).

Entries live in the `pipeline_cache` metadata table, keyed by (pipeline name, fingerprint) (see
:mod:`pmle.pipelines.cache_key`) and hold the task's output parameters and output artifact
refs (URI, metadata, type). The input artifact ids of a fingerprint are the input artifacts'
**URIs**: a task downstream of a cache hit sees the same URIs and hits too, while one downstream
of a task that ran again sees the new run's URIs and runs again. A hit needs every output
artifact's file or folder to exist still (Metrics and ClassificationMetrics are metadata only,
so they always hit); an entry whose files are gone is a miss and is replaced when the task
runs again. Importers and tasks with caching off are never cached.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from pmle._util import utcnow
from pmle.pipelines.executor_input import ArtifactRef

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from pmle.pipelines.ir import PipelineSpec, Task
    from pmle.pipelines.tasks import TaskResult

__all__ = ["METADATA_ONLY", "PipelineCache"]

METADATA_ONLY = frozenset({"system.Metrics", "system.ClassificationMetrics"})


class PipelineCache:
    """Lookups and stores of one run of `spec` (entries shared by runs of the same pipeline
    name). `hit_keys` holds the output folders of the tasks whose lookup hit. Stores hold
    `write_lock` (shared with the run's other writers)."""

    def __init__(
        self,
        engine: Engine,
        spec: PipelineSpec,
        *,
        run_id: int | None = None,
        write_lock: threading.Lock | None = None,
    ) -> None:
        self.engine, self.spec, self.run_id = engine, spec, run_id
        self.hit_keys: set[str] = set()
        self._lock = threading.Lock()
        self._write_lock = write_lock or threading.Lock()

    def fingerprint(self, task: Task, executor_input: dict[str, Any]) -> str | None:
        """The cache fingerprint of `task` with these inputs (None: not cached)."""
        from pmle.pipelines.cache_key import fingerprint

        component = self.spec.component(task.component)
        executor = self.spec.executor(component)
        inputs = executor_input.get("inputs") or {}
        artifact_ids = {
            name: [a.get("uri", "") for a in entry.get("artifacts") or []]
            for name, entry in (inputs.get("artifacts") or {}).items()
        }
        return fingerprint(
            task, component, executor, inputs.get("parameterValues") or {}, artifact_ids
        )

    def lookup(self, task: Task, executor_input: dict[str, Any]) -> TaskResult | None:
        """The cached result of `task` with these inputs, or None."""
        from sqlalchemy import select

        from pmle.pipelines.tasks import TaskResult, TaskState
        from pmle.storage.schema import pipeline_cache as t

        key = self.fingerprint(task, executor_input)
        if key is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.c.parameters, t.c.artifacts).where(
                    t.c.pipeline == self.spec.name, t.c.fingerprint == key
                )
            ).first()
        if row is None:
            return None
        refs = {name: ArtifactRef(**fields) for name, fields in (row.artifacts or {}).items()}
        if not all(_exists(ref) for ref in refs.values()):
            return None
        with self._lock:
            self.hit_keys.add(_out_dir(executor_input))
        return TaskResult(TaskState.SUCCEEDED, dict(row.parameters or {}), refs)

    def is_hit(self, output_dir: str) -> bool:
        """Whether the task whose output folder is `output_dir` was a cache hit."""
        with self._lock:
            return output_dir in self.hit_keys

    def store(self, task: Task, executor_input: dict[str, Any], result: TaskResult) -> None:
        """Remember a successful `result` (a hit is not stored again)."""
        from sqlalchemy import delete, insert

        from pmle.storage.schema import pipeline_cache as t

        if self.is_hit(_out_dir(executor_input)):
            return
        key = self.fingerprint(task, executor_input)
        if key is None:
            return
        artifacts = {
            name: {
                "name": ref.name,
                "uri": ref.uri,
                "metadata": dict(ref.metadata),
                "schema_title": ref.schema_title,
                "schema_version": ref.schema_version,
            }
            for name, ref in result.artifacts.items()
        }
        from sqlalchemy.exc import IntegrityError

        try:
            with self._write_lock, self.engine.begin() as conn:
                where = (t.c.pipeline == self.spec.name) & (t.c.fingerprint == key)
                conn.execute(delete(t).where(where))
                conn.execute(
                    insert(t).values(
                        pipeline=self.spec.name,
                        fingerprint=key,
                        parameters=dict(result.parameters),
                        artifacts=artifacts,
                        run_id=self.run_id,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            pass  # a concurrent run stored the same key first: its entry is as good


def _exists(ref: ArtifactRef) -> bool:
    if ref.schema_title in METADATA_ONLY:
        return True
    if "://" in ref.uri and not ref.uri.startswith("file://"):
        return True  # a remote URI cannot be checked here
    return os.path.exists(ref.path)


def _out_dir(executor_input: dict[str, Any]) -> str:
    from pmle.pipelines.executor_input import output_dir_of

    return str(output_dir_of(executor_input))
