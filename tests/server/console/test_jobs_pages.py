"""The console's jobs pages over real training jobs and tuning studies: the jobs table (state,
runner, data, model, exit code) a page at a time, a job's command and escaped log, cancelling a
running job (an editor may, a viewer may not), the studies with their best trial, and a study's
trials with the chart of the objective by trial. Also `Jobs.list(offset=)`."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pmle.workspace import Workspace

FAILING = "print('<b>hello</b> from the job')\nimport sys\nsys.exit(3)\n"
SLEEPY = "import time\nprint('waiting', flush=True)\ntime.sleep(30)\n"


def _script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _main(html: str) -> str:
    return html.split('<main id="main"', 1)[1]


def test_jobs_table_and_a_job_page(
    ws: Workspace, console: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmle.server.console.pages import jobs as jobs_page

    script = _script(tmp_path, "train.py", FAILING)
    made = [ws.jobs.run(script, ["--n", str(i)]) for i in range(3)]
    assert all(j.state == "FAILED" and j.exit_code == 3 for j in made)
    assert [j.id for j in ws.jobs.list(limit=2, offset=1)] == [made[1].id, made[0].id]

    html = _main(httpx.get(f"{console}/jobs").text)
    row = re.search(rf'<td class="num">{made[0].id}</td>(.*?)</tr>', html, re.S)
    assert row is not None
    cells = row.group(1)
    assert f'href="/jobs/{made[0].id}">train</a>' in cells and "FAILED" in cells
    assert "<td>local</td>" in cells and '<td class="num">3</td>' in cells
    assert f'href="/experiments/runs/{made[0].run_id}"' in cells
    assert "No tuning studies yet" in html

    monkeypatch.setattr(jobs_page, "PER_PAGE", 2)
    first = _main(httpx.get(f"{console}/jobs").text)
    assert re.findall(r'href="/jobs/(\d+)"', first) == [str(made[2].id), str(made[1].id)]
    second = _main(httpx.get(f"{console}/jobs?page=2").text)
    assert re.findall(r'href="/jobs/(\d+)"', second) == [str(made[0].id)]

    page = _main(httpx.get(f"{console}/jobs/{made[0].id}").text)
    assert "train.py --n 0</code>" in page and "exit code" in page
    assert "&lt;b&gt;hello&lt;/b&gt; from the job" in page and "<b>hello" not in page
    assert "/cancel" not in page  # it has ended
    assert httpx.get(f"{console}/jobs/999").status_code == 404


def test_cancel_a_running_job_from_the_page(
    ws: Workspace, console: str, tmp_path: Path, sign_in: Any, csrf_of: Any
) -> None:
    script = _script(tmp_path, "sleepy.py", SLEEPY)
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(ws.jobs.run(script)))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not ws.jobs.list() or "waiting" not in ws.jobs.logs(ws.jobs.list()[0].id):
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.05)
        job = ws.jobs.list()[0]
        assert job.state == "RUNNING"
        with httpx.Client() as viewer:
            sign_in(viewer, console, ws, role="viewer")
            page = viewer.get(f"{console}/jobs/{job.id}").text
            assert 'http-equiv="refresh"' in page and "Sign in</a> with an editor" in page
            r = viewer.post(f"{console}/jobs/{job.id}/cancel", data={"csrf": csrf_of(page)})
            assert r.status_code == 403
        assert ws.jobs.get(job.id).state == "RUNNING"
        with httpx.Client() as editor:
            sign_in(editor, console, ws)
            page = editor.get(f"{console}/jobs/{job.id}").text
            r = editor.post(f"{console}/jobs/{job.id}/cancel", data={"csrf": csrf_of(page)})
            assert r.status_code == 303 and "CANCELLED" in r.headers["location"]
        thread.join(30)
        assert ws.jobs.get(job.id).state == "CANCELLED"
    finally:
        if thread.is_alive() and ws.jobs.list() and ws.jobs.list()[0].state == "RUNNING":
            ws.jobs.cancel(ws.jobs.list()[0].id)
        thread.join(30)


def test_studies_and_a_study_page(ws: Workspace, console: str) -> None:
    study = ws.tuning.create_study(
        "bowl",
        {
            "x": {"type": "double", "min": -4, "max": 4},
            "kind": {"type": "categorical", "values": ["a", "b"]},
        },
        metric="loss",
        goal="minimize",
        max_trials=4,
        seed=3,
    )
    study.optimize(lambda t: (t.params["x"] - 1) ** 2 + (0 if t.params["kind"] == "a" else 2))
    best = study.best_trial
    html = _main(httpx.get(f"{console}/jobs").text)
    assert 'href="/jobs/studies/bowl"' in html and "minimize loss" in html
    assert '<td class="num">4 / 4</td>' in html and f"#{best.number}" in html

    page = _main(httpx.get(f"{console}/jobs/studies/bowl").text)
    assert page.count('<span class="state complete">COMPLETE</span>') == 4
    assert '<span class="badge good">best</span>' in page
    assert f'href="/experiments/runs/{best.run_id}"' in page
    assert 'href="/experiments/bowl"' in page and "<td>kind</td><td>categorical</td>" in page
    (raw,) = re.findall(r'<script type="application/json" id="spec-\d+">(.*?)</script>', page)
    spec = json.loads(raw)
    values = spec["data"]["values"]
    trials = [v for v in values if v["series"] == "trial"]
    assert [v["trial"] for v in trials] == [0, 1, 2, 3]
    best_line = [v["value"] for v in values if v["series"] == "best so far"]
    assert best_line == sorted(best_line, reverse=True)  # never worse (minimizing)
    assert best_line[-1] == pytest.approx(best.value)
    assert httpx.get(f"{console}/jobs/studies/nope").status_code == 404
