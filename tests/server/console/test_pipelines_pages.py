"""The console's pipelines pages over real pipeline runs: the runs list (filtered by pipeline,
a page at a time) and schedules; a run's DAG, timings, parameters, outputs, errors and escaped
log tails; retrying a failed run from the page (an editor may, a viewer may not); cancelling;
pausing and resuming a schedule. Also the listing API the pages use."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pmle.workspace import Workspace

# `flaky` fails until its marker file exists and logs markup that must come out escaped;
# `first` before it, `last` after it.
FLAKY = """
from kfp import dsl


@dsl.component(base_image="python:3.11")
def first(x: int) -> int:
    print("first got", x)
    return x + 1


@dsl.component(base_image="python:3.11")
def flaky(x: int, marker: str) -> int:
    import os
    print("<script>alert('log')</script> checking", marker)
    if not os.path.exists(marker):
        raise RuntimeError("no marker yet")
    return x * 10


@dsl.component(base_image="python:3.11")
def last(y: int) -> str:
    return f"got {y}"


@dsl.pipeline(name="flaky")
def flaky_pipeline(x: int = 1, marker: str = "") -> str:
    a = first(x=x)
    b = flaky(x=a.output, marker=marker)
    return last(y=b.output).output
"""

# `slow` waits (at most 30 s) for its release file; `quick` runs first, `after` last.
SLOW = """
from kfp import dsl


@dsl.component(base_image="python:3.11")
def quick(x: int) -> int:
    return x + 1


@dsl.component(base_image="python:3.11")
def slow(x: int, release: str) -> int:
    import os, time
    deadline = time.time() + 30
    while not os.path.exists(release) and time.time() < deadline:
        time.sleep(0.05)
    return x * 2


@dsl.component(base_image="python:3.11")
def after(y: int) -> int:
    return y + 100


@dsl.pipeline(name="slow")
def slow_pipeline(x: int = 1, release: str = "") -> int:
    a = quick(x=x)
    b = slow(x=a.output, release=release)
    return after(y=b.output).output
"""

QUICK = """
from kfp import dsl


@dsl.component(base_image="python:3.11")
def double(x: int) -> int:
    return x * 2


@dsl.pipeline(name="quick")
def quick(x: int = 1) -> int:
    return double(x=x).output
"""


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in (("flaky", FLAKY), ("quick", QUICK), ("slow", SLOW)):
        path = tmp_path / f"{name}.py"
        path.write_text(text, encoding="utf-8")
        out[name] = path
    return out


def _main(html: str) -> str:
    return html.split('<main id="main"', 1)[1]


def test_the_listing_api_pages_and_names(ws: Workspace, sources: dict[str, Path]) -> None:
    ids = [ws.pipelines.run(sources["quick"], {"x": i}).id for i in range(3)]
    ws.pipelines.run(sources["flaky"], {"x": 1, "marker": "/nonexistent"})
    assert ws.pipelines.names() == ["flaky", "quick"]
    assert [r.id for r in ws.pipelines.list("quick", limit=2)] == ids[::-1][:2]
    assert [r.id for r in ws.pipelines.list("quick", limit=2, offset=2)] == [ids[0]]
    assert len(ws.pipelines.list()) == 4 and ws.pipelines.list(offset=3)[0].id == ids[0]


def test_runs_list_filters_by_pipeline_and_pages(
    ws: Workspace, console: str, sources: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.server.console.pages import pipelines

    quick = [ws.pipelines.run(sources["quick"], {"x": i}) for i in range(3)]
    failed = ws.pipelines.run(sources["flaky"], {"x": 1, "marker": "/nonexistent"})
    ws.pipeline_schedules.create("nightly", sources["quick"], {"x": 5}, cron="0 3 * * *")
    html = httpx.get(f"{console}/pipelines").text
    for run in [*quick, failed]:
        assert f'href="/pipelines/runs/{run.id}"' in html
    assert '<span class="state failed">FAILED</span>' in html
    assert '<option value="flaky">' in html and '<option value="quick">' in html
    assert 'href="/pipelines/schedules/nightly"' in html and "<code>0 3 * * *</code>" in html
    only = httpx.get(f"{console}/pipelines", params={"pipeline": "flaky"}).text
    assert f'href="/pipelines/runs/{failed.id}"' in only
    assert all(f'href="/pipelines/runs/{r.id}"' not in only for r in quick)

    monkeypatch.setattr(pipelines, "PER_PAGE", 2)
    first = _main(httpx.get(f"{console}/pipelines", params={"pipeline": "quick"}).text)
    shown = re.findall(r'href="/pipelines/runs/(\d+)"', first)
    assert shown == [str(quick[2].id), str(quick[1].id)]
    assert 'class="pager"' in first and 'href="/pipelines?pipeline=quick&amp;page=2"' in first
    second = _main(httpx.get(f"{console}/pipelines?pipeline=quick&page=2").text)
    assert re.findall(r'href="/pipelines/runs/(\d+)"', second) == [str(quick[0].id)]
    assert 'href="/pipelines?pipeline=quick" rel="prev"' in second


def test_a_run_page_shows_the_dag_timings_outputs_and_escaped_logs(
    ws: Workspace, console: str, sources: dict[str, Path]
) -> None:
    run = ws.pipelines.run(sources["flaky"], {"x": 4, "marker": "/nonexistent"})
    assert run.state == "FAILED"
    r = httpx.get(f"{console}/pipelines/runs/{run.id}")
    assert r.status_code == 200
    html = r.text
    # the DAG: a node per task, with its state, linking to its section
    for name, state in (("first", "succeeded"), ("flaky", "failed"), ("last", "skipped")):
        assert f'<g class="node {state}" data-node="root/{name}">' in html
        assert f'<a href="#task-root-{name}">' in html
        assert f'id="task-root-{name}"' in html
    assert html.count('class="edge" marker-end') == 2  # first → flaky → last
    # timings, parameters, the error, the task outputs and the log tails
    assert 'class="gantt"' in html and "timeline" in html
    assert "<td>marker</td><td>/nonexistent</td>" in html and "<td>x</td><td>4</td>" in html
    assert "tasks failed: root/flaky" in html and "RuntimeError: no marker yet" in html
    assert "<td>Output</td><td>5</td>" in html  # first's output parameter
    assert "first got 4" in html
    assert "&lt;script&gt;alert(&#39;log&#39;)&lt;/script&gt; checking" in html
    assert "<script>alert" not in html
    assert "No log: the task did not run." in html  # `last` was skipped
    # not signed in: no retry form, a hint to sign in
    assert "/retry" not in html and 'href="/login?next=/pipelines/runs/' in html
    assert httpx.get(f"{console}/pipelines/runs/999").status_code == 404


def test_retry_a_failed_run_from_the_page(
    ws: Workspace,
    console: str,
    sources: dict[str, Path],
    tmp_path: Path,
    sign_in: Any,
    csrf_of: Any,
) -> None:
    marker = tmp_path / "marker"
    run = ws.pipelines.run(sources["flaky"], {"x": 4, "marker": str(marker)})
    assert run.state == "FAILED"
    with httpx.Client() as viewer:
        sign_in(viewer, console, ws, role="viewer")
        page = viewer.get(f"{console}/pipelines/runs/{run.id}").text
        assert "/retry" not in page and "Sign in</a> with an editor" in page
        r = viewer.post(f"{console}/pipelines/runs/{run.id}/retry", data={"csrf": csrf_of(page)})
        assert r.status_code == 403 and "viewer" in r.text
    assert ws.pipelines.get(run.id).attempt == 1

    marker.touch()
    with httpx.Client() as editor:
        sign_in(editor, console, ws, role="editor")
        page = editor.get(f"{console}/pipelines/runs/{run.id}").text
        assert f'action="/pipelines/runs/{run.id}/retry"' in page
        r = editor.post(
            f"{console}/pipelines/runs/{run.id}/retry",
            data={"csrf": csrf_of(page)},
            headers={"referer": f"{console}/pipelines/runs/{run.id}"},
        )
        assert r.status_code == 303
        assert r.headers["location"].startswith(f"/pipelines/runs/{run.id}?notice=Retr")
        ws_run = _wait_ended(ws, run.id)
        assert ws_run.succeeded and ws_run.attempt == 2
        after = editor.get(f"{console}/pipelines/runs/{run.id}").text
        assert '<g class="node cached" data-node="root/first">' in after  # reused
        assert "reused from the earlier attempt" not in after  # its old log is still shown
        assert "first got 4" in after and "attempt 2" in after
        assert f'action="/pipelines/runs/{run.id}/retry"' not in after
        # a succeeded run cannot be retried: the error comes back to the page
        r = editor.post(
            f"{console}/pipelines/runs/{run.id}/retry",
            data={"csrf": csrf_of(after)},
            headers={"referer": f"{console}/pipelines/runs/{run.id}"},
        )
        assert r.status_code == 303 and "notice=Error" in r.headers["location"]


def _wait_ended(ws: Workspace, run_id: int, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        run = ws.pipelines.get(run_id)
        if run.ended:
            return run
        assert time.monotonic() < deadline, "the retried run did not end"
        time.sleep(0.05)


def test_schedule_page_pause_and_resume(
    ws: Workspace, console: str, sources: dict[str, Path], sign_in: Any, csrf_of: Any
) -> None:
    ws.pipeline_schedules.create("nightly", sources["quick"], {"x": 5}, cron="0 3 * * *")
    html = httpx.get(f"{console}/pipelines/schedules/nightly").text
    assert "<code>0 3 * * *</code>" in html and "<td>x</td><td>5</td>" in html
    assert "/pause" not in html  # not signed in
    with httpx.Client() as editor:
        sign_in(editor, console, ws)
        page = editor.get(f"{console}/pipelines/schedules/nightly").text
        r = editor.post(
            f"{console}/pipelines/schedules/nightly/pause", data={"csrf": csrf_of(page)}
        )
        assert r.status_code == 303 and ws.pipeline_schedules.get("nightly").state == "PAUSED"
        page = editor.get(f"{console}/pipelines/schedules/nightly").text
        assert "Resume the schedule" in page
        editor.post(f"{console}/pipelines/schedules/nightly/resume", data={"csrf": csrf_of(page)})
        assert ws.pipeline_schedules.get("nightly").state == "ACTIVE"
    assert httpx.get(f"{console}/pipelines/schedules/nope").status_code == 404


def test_a_running_run_shows_pending_tasks_and_can_be_cancelled(
    ws: Workspace,
    console: str,
    sources: dict[str, Path],
    tmp_path: Path,
    sign_in: Any,
    csrf_of: Any,
) -> None:
    import threading

    from pmle.pipelines.run_records import read_journal

    release = tmp_path / "release"
    box: list[Any] = []
    thread = threading.Thread(
        target=lambda: box.append(
            ws.pipelines.run(sources["slow"], {"x": 1, "release": str(release)})
        )
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not ws.pipelines.list() or not read_journal(Path(ws.pipelines.list()[0].root_dir)):
            assert time.monotonic() < deadline, "the run did not start"
            time.sleep(0.05)
        run = ws.pipelines.list()[0]
        html = httpx.get(f"{console}/pipelines/runs/{run.id}").text
        assert 'http-equiv="refresh"' in html and '<span class="state running">' in html
        assert '<g class="node succeeded" data-node="root/quick">' in html
        assert '<g class="node pending" data-node="root/slow">' in html  # from the spec
        assert '<g class="node pending" data-node="root/after">' in html
        with httpx.Client() as editor:
            sign_in(editor, console, ws)
            page = editor.get(f"{console}/pipelines/runs/{run.id}").text
            assert f'action="/pipelines/runs/{run.id}/cancel"' in page
            r = editor.post(
                f"{console}/pipelines/runs/{run.id}/cancel", data={"csrf": csrf_of(page)}
            )
            assert r.status_code == 303 and "CANCELLED" in r.headers["location"]
        thread.join(30)
        assert box[0].state == "CANCELLED"
        html = httpx.get(f"{console}/pipelines/runs/{run.id}").text
        assert 'http-equiv="refresh"' not in html and "Retry the run" not in html
    finally:
        release.touch()
        thread.join(30)
