"""The console's pipelines pages: runs (filtered by pipeline, a page at a time) and schedules;
one run's DAG with its task states, timings, cache hits, parameters, outputs, errors and log
tails; retrying a failed run, cancelling a running one, pausing and resuming schedules."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import Conflict, PmleError
from pmle.server.console.links import task_anchor
from pmle.server.console.paging import PER_PAGE, open_ended
from pmle.server.console.router import Ctx, Reply, action, page, redirect

if TYPE_CHECKING:
    from pmle.pipelines.runs import PipelineRun

LOG_TAIL_LINES = 200
LOG_TAIL_BYTES = 64 * 1024
RETRY_WAIT_S = 10.0  # how long a retry request waits for the run to be claimed (or to end)


# -- helpers shared by the console's pipelines, experiments and jobs pages --------------------


def whole_x(spec: dict[str, Any]) -> dict[str, Any]:
    """A line chart's spec with whole-number ticks on its x axis (steps, trial numbers)."""
    for layer in spec.get("layer", []):
        x = layer.get("encoding", {}).get("x")
        if x is not None:
            x["axis"] = {"tickMinStep": 1, "format": "d"}
    return spec


def seconds_between(start: Any, end: Any) -> float | None:
    """Seconds from `start` to `end` (datetimes), None when either is missing."""
    if start is None or end is None:
        return None
    return float((end - start).total_seconds())


def tail(path: Path, *, lines: int = LOG_TAIL_LINES, limit: int = LOG_TAIL_BYTES) -> str:
    """The last `lines` lines (at most `limit` bytes) of a text file; '' when unreadable."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    if size > limit:  # the first line read is likely cut
        text = text.partition("\n")[2]
    kept = text.splitlines()[-lines:]
    return "\n".join(kept)


# -- runs -------------------------------------------------------------------------------------


def _leaves(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in tasks if not t.get("isGroup")]


def _summaries(run: PipelineRun) -> list[dict[str, Any]]:
    """The run's task summaries: as stored when it ended; while it runs, with those its
    journal has so far (what finished in this attempt)."""
    from pmle.pipelines.run_records import merge_tasks, read_journal

    if run.ended or not run.root_dir:
        return run.tasks
    return merge_tasks(run.tasks, read_journal(Path(run.root_dir)))


def _row(run: PipelineRun) -> dict[str, Any]:
    leaves = _leaves(_summaries(run))
    return {
        "id": run.id,
        "run_name": run.run_name,
        "pipeline": run.name,
        "state": run.state,
        "trigger": run.trigger,
        "schedule_id": run.schedule_id,
        "attempt": run.attempt,
        "started_at": run.started_at,
        "duration": seconds_between(run.started_at, run.ended_at),
        "tasks": len(leaves),
        "cached": sum(1 for t in leaves if t.get("cacheHit")),
        "failed": sum(1 for t in leaves if t.get("state") == "FAILED"),
    }


@page("/pipelines")
def pipelines(c: Ctx) -> Reply:
    ws = c.ws
    number = c.int_arg("page", 1, lo=1)
    pipeline = c.arg("pipeline").strip() or None
    runs = ws.pipelines.list(pipeline, limit=PER_PAGE + 1, offset=(number - 1) * PER_PAGE)
    schedules = ws.pipeline_schedules.list()
    return c.render(
        "pipelines.html",
        runs=[_row(r) for r in runs[:PER_PAGE]],
        names=ws.pipelines.names(),
        pipeline=pipeline,
        schedules=schedules,
        schedule_names={s.id: s.name for s in schedules},
        pager=open_ended(c, number, len(runs) > PER_PAGE),
    )


def _pending(run: PipelineRun, known: set[str]) -> tuple[list[dict[str, Any]], list[tuple]]:
    """The top-level tasks of a running run's compiled pipeline that have not finished yet
    (pending nodes) and their dependencies."""
    from pmle.pipelines.ir import parse_pipeline
    from pmle.pipelines.run_records import SPEC_FILE

    spec_file = Path(run.root_dir) / SPEC_FILE
    try:
        spec = parse_pipeline(spec_file.read_text(encoding="utf-8"), origin=str(spec_file))
    except (OSError, PmleError):
        return [], []
    dag = spec.root.dag
    if dag is None:
        return [], []
    tasks, edges = [], []
    for key, task in dag.tasks.items():
        full = f"root/{key}"
        if full in known:
            continue
        tasks.append({"key": full, "name": task.display_name or key, "state": "PENDING"})
        edges += [(f"root/{d}", full) for d in task.dependent_tasks]
    return tasks, edges


def _graph(run: PipelineRun, tasks: list[dict[str, Any]]) -> Any:
    """The run's DAG as SVG: a node per task (groups too), edges from the tasks each waited
    for and from a group to what it holds; nodes link to their task's section."""
    from pmle.server.console.dag import Node, svg
    from pmle.server.console.render import duration

    keys = {t["key"] for t in tasks}
    edges: list[tuple[str, str]] = []
    pending: list[dict[str, Any]] = []
    if not run.ended:
        pending, edges = _pending(run, keys)
        keys |= {t["key"] for t in pending}
    nodes = []
    for t in [*tasks, *pending]:
        state = str(t.get("state") or "")
        how = "cached" if t.get("cacheHit") else "reused" if t.get("reused") else ""
        took = t.get("durationS")
        detail = " · ".join(
            x for x in (state.lower(), how, duration(took) if took is not None else "") if x
        )
        nodes.append(
            Node(
                id=t["key"],
                label=t["key"].rpartition("/")[2] if t.get("isGroup") else str(t["name"]),
                detail=detail,
                state="cached" if how and state == "SUCCEEDED" else state.lower(),
                href=f"#{task_anchor(t['key'])}",
            )
        )
        for up in t.get("upstream") or []:
            edges.append((up, t["key"]))
        parent = t["key"].rpartition("/")[0]
        while parent and parent not in keys:  # a loop iteration has no record of its own
            parent = parent.rpartition("/")[0]
        if parent:
            edges.append((parent, t["key"]))
    return svg(nodes, edges, label=f"Tasks of pipeline run {run.run_name}")


def _logs(run: PipelineRun, task: dict[str, Any]) -> list[dict[str, str]]:
    """The tails of a task's log files, read only from inside the run's folder: the files in
    the task's own folder (a reused task's log from the earlier attempt is there too)."""
    if not run.root_dir:
        return []
    root = Path(run.root_dir).resolve()
    found: list[Path] = []
    task_dir = (root / task["key"]).resolve()
    if task_dir.is_relative_to(root) and task_dir.is_dir():
        found += sorted(p for p in task_dir.glob("*.log") if p.is_file())
    if task.get("logPath"):
        path = Path(task["logPath"]).resolve()
        if path.is_relative_to(root) and path.is_file() and path not in found:
            found.append(path)
    return [{"name": p.name, "text": tail(p)} for p in found]


def _timings(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the Gantt-like table: each task that ran, its offset from the run's first
    start, its duration, and the bar's left and width in percent of the whole span."""
    timed = [t for t in tasks if t.get("start") is not None]
    if not timed:
        return []
    t0 = min(float(t["start"]) for t in timed)
    t1 = max(float(t.get("end") or t["start"]) for t in timed)
    span = max(t1 - t0, 1e-6)
    rows = []
    for t in timed:
        start = float(t["start"]) - t0
        took = float(t.get("end") or t["start"]) - float(t["start"])
        rows.append(
            {
                "key": t["key"],
                "slug": task_anchor(t["key"]),
                "state": t.get("state") or "",
                "group": bool(t.get("isGroup")),
                "cache": "cached" if t.get("cacheHit") else "reused" if t.get("reused") else "",
                "attempts": t.get("attempts") or 0,
                "offset": start,
                "duration": took if t.get("end") else None,
                "left": round(100 * start / span, 2),
                "width": round(max(100 * took / span, 0.6), 2),
            }
        )
    return rows


@page(r"/pipelines/runs/(?P<run_id>\d{1,18})")
def run_page(c: Ctx, run_id: str) -> Reply:
    ws = c.ws
    run = ws.pipelines.get(run_id)
    summaries = _summaries(run)
    schedule = None
    if run.schedule_id is not None:
        schedule = next((s for s in ws.pipeline_schedules.list() if s.id == run.schedule_id), None)
    tasks = []
    ordered = sorted(summaries, key=lambda t: (t.get("start") is None, t.get("start") or 0.0))
    for t in ordered:
        artifacts = [
            {"output": name, **ref}
            for name, refs in (t.get("artifacts") or {}).items()
            for ref in refs
        ]
        tasks.append(
            {
                **t,
                "slug": task_anchor(t["key"]),
                "after": [(u, task_anchor(u)) for u in t.get("upstream") or []],
                "output_artifacts": artifacts,
                "logs": [] if t.get("isGroup") else _logs(run, t),
            }
        )
    outputs = run.result.get("outputs") or {}
    leaves = _leaves(summaries)
    return c.render(
        "pipelines_run.html",
        run=run,
        schedule=schedule,
        dag=_graph(run, summaries),
        tasks=tasks,
        timings=_timings(summaries),
        duration=seconds_between(run.started_at, run.ended_at),
        out_parameters=outputs.get("parameters") or {},
        out_artifacts=[
            {"output": name, **ref}
            for name, refs in (outputs.get("artifacts") or {}).items()
            for ref in refs
        ],
        counts={
            "tasks": len(leaves),
            "cached": sum(1 for t in leaves if t.get("cacheHit")),
            "reused": sum(1 for t in leaves if t.get("reused")),
            "failed": sum(1 for t in leaves if t.get("state") == "FAILED"),
        },
        options=run.options,
        can_retry=run.state in {"FAILED", "CANCELLED"},
    )


@action(r"/pipelines/runs/(?P<run_id>\d{1,18})/retry")
def retry(c: Ctx, run_id: str) -> Reply:
    """Retry a failed or cancelled run. It runs on in the server, in the background: the
    request waits until the run is claimed (RUNNING again) or has ended, then shows it."""
    ws = c.ws
    before = ws.pipelines.get(run_id)
    if before.state not in {"FAILED", "CANCELLED"}:
        raise Conflict(
            f"pipeline run {before.id} is {before.state}; only a failed or cancelled run "
            "can be retried"
        )
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["run"] = ws.pipelines.retry(before.id)
        except BaseException as exc:  # shown to whoever asked, below
            outcome["error"] = exc

    worker = threading.Thread(target=work, name=f"pmle-console-retry-{before.id}", daemon=True)
    worker.start()
    deadline = time.monotonic() + RETRY_WAIT_S
    while worker.is_alive() and time.monotonic() < deadline:
        worker.join(0.05)
        if ws.pipelines.get(before.id).attempt > before.attempt:
            break
    error = outcome.get("error")
    if error is not None:
        raise error
    now = outcome.get("run") or ws.pipelines.get(before.id)
    where = f"/pipelines/runs/{before.id}"
    if now.ended:
        return redirect(where, f"Retried run {before.id} (attempt {now.attempt}): {now.state}.")
    return redirect(where, f"Retrying run {before.id} (attempt {now.attempt}).")


@action(r"/pipelines/runs/(?P<run_id>\d{1,18})/cancel")
def cancel(c: Ctx, run_id: str) -> Reply:
    run = c.ws.pipelines.cancel(run_id, wait_s=10.0)
    return redirect(f"/pipelines/runs/{run.id}", f"Run {run.id} is {run.state}.")


# -- schedules --------------------------------------------------------------------------------


@page(r"/pipelines/schedules/(?P<name>[^/]+)")
def schedule_page(c: Ctx, name: str) -> Reply:
    schedules = c.ws.pipeline_schedules
    info = schedules.get(name)
    return c.render(
        "pipelines_schedule.html", schedule=info, runs=schedules.runs(name, limit=PER_PAGE)
    )


@action(r"/pipelines/schedules/(?P<name>[^/]+)/pause")
def pause(c: Ctx, name: str) -> Reply:
    info = c.ws.pipeline_schedules.pause(name)
    return redirect(f"/pipelines/schedules/{info.name}", f"Schedule {info.name} is paused.")


@action(r"/pipelines/schedules/(?P<name>[^/]+)/resume")
def resume(c: Ctx, name: str) -> Reply:
    info = c.ws.pipeline_schedules.resume(name)
    return redirect(f"/pipelines/schedules/{info.name}", f"Schedule {info.name} is active again.")
