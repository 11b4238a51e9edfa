"""What a pipeline run leaves behind: :class:`PipelineRun` (a `pipeline_runs` row), the task
summaries (:func:`task_summary`), and the run's task journal.

The journal (`<run folder>/tasks.jsonl`) gets one JSON line per task as it finishes, so that a
run whose process was killed still knows which tasks succeeded: the next start marks the run
FAILED with those tasks, and a retry reuses them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle._util import as_utc

if TYPE_CHECKING:
    from pmle.pipelines.executor_input import ArtifactRef
    from pmle.pipelines.scheduler import TaskRecord

__all__ = [
    "ENDED",
    "JOURNAL",
    "SPEC_FILE",
    "PipelineRun",
    "read_journal",
    "refs_of",
    "task_summary",
]

JOURNAL = "tasks.jsonl"
SPEC_FILE = "pipeline.yaml"  # the compiled IR the run executes (and a retry executes again)
CANCEL_FILE = "CANCEL"  # written by `cancel` from another process; the running one polls it
ENDED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


@dataclass(frozen=True)
class PipelineRun:
    """One run of a pipeline as stored."""

    id: int
    name: str  # the pipeline's name
    run_name: str
    state: str  # RUNNING | SUCCEEDED | FAILED | CANCELLED
    source: str
    params: dict[str, Any] = field(hash=False)
    result: dict[str, Any] = field(hash=False, repr=False)
    root_dir: str
    error: str | None
    started_at: datetime
    ended_at: datetime | None
    attempt: int = 1
    trigger: str | None = None
    schedule_id: int | None = None
    owner_host: str | None = None
    owner_pid: int | None = None

    @property
    def tasks(self) -> list[dict[str, Any]]:
        """The task summaries (see :func:`task_summary`), in start order."""
        return list(self.result.get("tasks") or [])

    @property
    def succeeded(self) -> bool:
        """Whether the run succeeded."""
        return self.state == "SUCCEEDED"

    @property
    def ended(self) -> bool:
        """Whether the run has ended (succeeded, failed or was cancelled)."""
        return self.state in ENDED

    @property
    def options(self) -> dict[str, Any]:
        """How it was started: `noCache`, `maxParallel`."""
        return dict(self.result.get("options") or {})

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "pipeline": self.name,
            "runName": self.run_name,
            "state": self.state,
            "attempt": self.attempt,
            "trigger": self.trigger,
            "scheduleId": self.schedule_id,
            "source": self.source,
            "params": self.params,
            "outputs": self.result.get("outputs") or {},
            "tasks": self.tasks,
            "rootDir": self.root_dir,
            "error": self.error,
            "startTime": self.started_at.isoformat(),
            "endTime": self.ended_at.isoformat() if self.ended_at else None,
        }


def run_of(row: Any) -> PipelineRun:
    """A `pipeline_runs` row as a :class:`PipelineRun`."""
    started = as_utc(row.started_at)
    assert started is not None
    return PipelineRun(
        id=row.id,
        name=row.name,
        run_name=row.run_name,
        state=row.state,
        source=row.source,
        params=dict(row.params or {}),
        result=dict(row.result or {}),
        root_dir=row.root_dir,
        error=row.error,
        started_at=started,
        ended_at=as_utc(row.ended_at),
        attempt=int(row.attempt or 1),
        trigger=row.trigger,
        schedule_id=row.schedule_id,
        owner_host=row.owner_host,
        owner_pid=row.owner_pid,
    )


def jsonable(value: Any) -> Any:
    """`value` as plain JSON types (anything else as its str)."""
    return json.loads(json.dumps(value, default=str))


def refs_of(artifacts: Mapping[str, list[ArtifactRef]]) -> dict[str, list[dict[str, Any]]]:
    """Artifact refs as stored in summaries (enough to rebuild them: see :func:`ref_from`)."""
    return {
        name: [
            {
                "name": r.name,
                "uri": r.uri,
                "type": r.schema_title,
                "schemaVersion": r.schema_version,
                "metadata": jsonable(r.metadata),
            }
            for r in refs
        ]
        for name, refs in artifacts.items()
    }


def ref_from(stored: Mapping[str, Any]) -> ArtifactRef:
    """The ArtifactRef a summary stored with :func:`refs_of`."""
    from pmle.pipelines.executor_input import ArtifactRef

    ref = ArtifactRef(
        name=str(stored.get("name") or ""),
        uri=str(stored["uri"]),
        metadata=dict(stored.get("metadata") or {}),
        schema_title=str(stored.get("type") or "system.Artifact"),
    )
    version = stored.get("schemaVersion")
    if version:
        from dataclasses import replace

        ref = replace(ref, schema_version=str(version))
    return ref


def task_summary(
    record: TaskRecord, *, cache_hit: bool = False, reused: bool = False
) -> dict[str, Any]:
    """A task record as stored: key, name, state, attempts, cacheHit, reused (taken from the
    run's earlier attempt by a retry), times, upstream tasks, log (None when the task did not
    run), error, the digest of its inputs, output parameters and artifact refs."""
    duration = (
        record.end - record.start if record.start is not None and record.end is not None else None
    )
    ran = not (cache_hit or reused)
    return {
        "key": record.key,
        "name": record.name,
        "state": record.state,
        "attempts": record.attempts if ran else 0,
        "cacheHit": cache_hit,
        "reused": reused,
        "isGroup": record.is_group,
        "upstream": list(record.upstream),
        "start": record.start,
        "end": record.end,
        "durationS": round(duration, 3) if duration is not None else None,
        "logPath": str(record.log_path) if record.log_path is not None and ran else None,
        "error": record.error,
        "inputsDigest": record.inputs_digest,
        "parameters": jsonable(record.parameters),
        "artifacts": refs_of(record.artifacts),
    }


def append_journal(root: Path, summary: Mapping[str, Any]) -> None:
    """Append one finished task's summary to the run's journal."""
    with open(root / JOURNAL, "a", encoding="utf-8") as f:
        f.write(json.dumps(summary, default=str) + "\n")


def read_journal(root: Path) -> list[dict[str, Any]]:
    """The summaries in a run's journal (a torn last line, from a kill, is skipped)."""
    try:
        lines = (root / JOURNAL).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def merge_tasks(earlier: list[dict[str, Any]], later: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Task summaries by key, `later` ones replacing `earlier` ones, in start order."""
    by_key = {t["key"]: t for t in earlier}
    by_key.update({t["key"]: t for t in later})
    return sorted(by_key.values(), key=lambda t: (t.get("start") or 0.0, t["key"]))
