"""Retrying failed runs (reusing what succeeded), cancelling running ones, and runs whose
process was killed."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pmle.errors import Conflict
from pmle.pipelines.run_records import read_journal
from pmle.workspace import Workspace

pytest.importorskip("kfp")

_spec = importlib.util.spec_from_file_location(
    "pmle_runs_pipeline_rc", Path(__file__).parent / "runs_pipeline.py"
)
assert _spec is not None and _spec.loader is not None
src = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(src)


def _by_name(run) -> dict[str, dict]:
    return {t["name"]: t for t in run.tasks if not t["isGroup"]}


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


@pytest.mark.parametrize("no_cache", [True, False])
def test_retry_reuses_succeeded_tasks(ws: Workspace, tmp_path: Path, no_cache: bool) -> None:
    path = tmp_path / "flaky.py"
    path.write_text(src.FLAKY)
    marker = tmp_path / "marker"
    run = ws.pipelines.run(path, {"x": 4, "marker": str(marker)}, no_cache=no_cache)
    assert run.state == "FAILED" and "flaky" in (run.error or "")
    tasks = _by_name(run)
    assert [tasks[n]["state"] for n in ("first", "flaky", "last")] == [
        "SUCCEEDED",
        "FAILED",
        "SKIPPED",
    ]
    first_log = Path(tasks["first"]["logPath"])
    mtime = first_log.stat().st_mtime_ns

    with pytest.raises(Conflict, match="only a failed or cancelled run"):
        ws.pipelines.retry(ws.pipelines.run(path, {"x": 1, "marker": str(path)}).id)

    marker.touch()
    seen: list[str] = []
    again = ws.pipelines.retry(run.id, on_task=lambda t: seen.append(t["name"]))
    assert again.id == run.id and again.succeeded and again.attempt == 2, again.error
    tasks = _by_name(again)
    assert tasks["first"]["reused"] and tasks["first"]["attempts"] == 0
    assert not tasks["flaky"]["reused"] and tasks["flaky"]["parameters"]["Output"] == 50
    assert again.result["outputs"]["parameters"]["Output"] == "got 50"
    assert first_log.stat().st_mtime_ns == mtime  # `first` did not run again
    assert set(seen) == {"first", "flaky", "last"}
    with pytest.raises(Conflict):
        ws.pipelines.retry(run.id)  # it succeeded


def _start_in_thread(ws: Workspace, path: Path, params: dict) -> tuple[threading.Thread, list]:
    box: list = []
    thread = threading.Thread(target=lambda: box.append(ws.pipelines.run(path, params)))
    thread.start()
    return thread, box


def test_cancel_in_process_then_retry(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "slow.py"
    path.write_text(src.SLOW)
    release = tmp_path / "release"
    thread, box = _start_in_thread(ws, path, {"x": 1, "release": str(release)})
    _wait_for(
        lambda: (
            bool(ws.pipelines.list()) and bool(read_journal(Path(ws.pipelines.list()[0].root_dir)))
        )
    )
    (run,) = ws.pipelines.list()
    assert run.state == "RUNNING"
    with pytest.raises(Conflict, match="cancel it first"):
        ws.pipelines.delete(run.id)
    began = time.monotonic()
    cancelled = ws.pipelines.cancel(run.id)
    thread.join(10)
    assert time.monotonic() - began < 5  # the slow task was stopped, not waited for
    assert cancelled.state == "CANCELLED" and box[0].state == "CANCELLED"
    tasks = _by_name(cancelled)
    assert tasks["quick"]["state"] == "SUCCEEDED"
    assert tasks["slow"]["state"] == "CANCELLED"
    assert tasks["after"]["state"] == "CANCELLED"
    with pytest.raises(Conflict, match="already ended"):
        ws.pipelines.cancel(run.id)

    release.touch()
    again = ws.pipelines.retry(run.id)
    assert again.succeeded and _by_name(again)["quick"]["reused"]
    assert again.result["outputs"]["parameters"]["Output"] == 104


def _run_in_subprocess(ws: Workspace, path: Path, params: str) -> subprocess.Popen[bytes]:
    code = (
        "import pmle, json, sys; ws = pmle.open_workspace(sys.argv[1]); "
        "ws.pipelines.run(sys.argv[2], json.loads(sys.argv[3]))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(ws.root), str(path), params],
        start_new_session=True,
    )


def test_cancel_from_another_process(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "slow.py"
    path.write_text(src.SLOW)
    release = tmp_path / "release"
    proc = _run_in_subprocess(ws, path, f'{{"x": 2, "release": "{release}"}}')
    try:
        _wait_for(
            lambda: (
                bool(ws.pipelines.list())
                and bool(read_journal(Path(ws.pipelines.list()[0].root_dir)))
            )
        )
        run = ws.pipelines.cancel(ws.pipelines.list()[0].id, wait_s=20)
        assert run.state == "CANCELLED"
        assert _by_name(run)["slow"]["state"] == "CANCELLED"
        assert proc.wait(20) == 0
    finally:
        release.touch()
        proc.kill()


def test_killed_run_is_marked_failed_and_retried(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "slow.py"
    path.write_text(src.SLOW)
    release = tmp_path / "release"
    proc = _run_in_subprocess(ws, path, f'{{"x": 3, "release": "{release}"}}')
    try:
        _wait_for(
            lambda: (
                bool(ws.pipelines.list())
                and bool(read_journal(Path(ws.pipelines.list()[0].root_dir)))
            )
        )
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        (run,) = ws.pipelines.list()  # listing notices the dead owner
        assert run.state == "FAILED" and f"pid {proc.pid}" in (run.error or "")
        assert _by_name(run)["quick"]["state"] == "SUCCEEDED"
        assert "slow" not in _by_name(run)  # it was running: it has no record
        assert ws.pipelines.recover() == []  # marked once
        release.touch()
        again = ws.pipelines.retry(run.id)
        assert again.succeeded and _by_name(again)["quick"]["reused"]
        assert again.result["outputs"]["parameters"]["Output"] == 108
    finally:
        release.touch()
        proc.kill()


def test_a_pool_that_cannot_start_fails_the_run(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.errors import ServerUnavailable
    from pmle.pipelines import ray_runner

    def unreachable(self, *args, **kwargs):
        raise ServerUnavailable("cannot reach the Ray cluster at ray://nowhere:10001")

    monkeypatch.setattr(ray_runner.RayTaskPool, "__init__", unreachable)
    path = tmp_path / "flaky.py"
    path.write_text(src.FLAKY)
    with pytest.raises(ServerUnavailable):
        ws.pipelines.run(path, {"marker": str(path)}, runner="ray")
    (run,) = ws.pipelines.list()
    assert run.state == "FAILED" and "Ray cluster" in (run.error or "")
    with pytest.raises(ServerUnavailable):  # still unreachable: failed again, not stuck
        ws.pipelines.retry(run.id)
    assert ws.pipelines.get(run.id).state == "FAILED"
