"""The task cache of one run attempt: :class:`RunCache`.

A retried run first reuses the tasks that succeeded in its earlier attempt — same task, same
output folder, same inputs (see :func:`~pmle.pipelines.scheduler.inputs_digest`) — whatever
their caching options, as Vertex AI's retry does; any other task asks the workspace's task
cache (:class:`~pmle.pipelines.cache.PipelineCache`), when caching is on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pmle.pipelines.executor_input import output_dir_of

if TYPE_CHECKING:
    from pmle.pipelines.cache import PipelineCache
    from pmle.pipelines.ir import Task
    from pmle.pipelines.tasks import TaskResult

__all__ = ["RunCache"]


class RunCache:
    """Lookups for one attempt of a run: earlier successes of the run (`previous`: task
    summaries), then `cache` (None: caching off)."""

    def __init__(
        self,
        cache: PipelineCache | None,
        previous: Iterable[Mapping[str, Any]] = (),
        *,
        root: str = "",
    ) -> None:
        from pathlib import Path

        self.cache = cache
        self._previous = {
            str(Path(root) / t["key"]): t
            for t in previous
            if t.get("state") == "SUCCEEDED" and not t.get("isGroup") and t.get("inputsDigest")
        }
        self._reused: set[str] = set()
        self._lock = threading.Lock()

    def lookup(self, task: Task, executor_input: dict[str, Any]) -> TaskResult | None:
        """The earlier attempt's result of this task with the same inputs, else the cache's."""
        from pmle.pipelines.run_records import ref_from
        from pmle.pipelines.scheduler import inputs_digest
        from pmle.pipelines.tasks import TaskResult, TaskState

        out_dir = str(output_dir_of(executor_input))
        before = self._previous.get(out_dir)
        if before is not None and before["inputsDigest"] == inputs_digest(executor_input):
            artifacts = {
                name: ref_from(refs[0]) for name, refs in (before.get("artifacts") or {}).items()
            }
            with self._lock:
                self._reused.add(out_dir)
            return TaskResult(TaskState.SUCCEEDED, dict(before.get("parameters") or {}), artifacts)
        return self.cache.lookup(task, executor_input) if self.cache is not None else None

    def store(self, task: Task, executor_input: dict[str, Any], result: TaskResult) -> None:
        """Tell the cache of a task's success (not of a reused one)."""
        if self.cache is not None and not self.is_reused(str(output_dir_of(executor_input))):
            self.cache.store(task, executor_input, result)

    def is_reused(self, output_dir: str) -> bool:
        """Whether the task with this output folder was reused from the earlier attempt."""
        with self._lock:
            return output_dir in self._reused

    def is_hit(self, output_dir: str) -> bool:
        """Whether the task with this output folder was a hit of the workspace's cache."""
        return self.cache is not None and self.cache.is_hit(output_dir)
