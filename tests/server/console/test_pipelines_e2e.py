"""The pipelines pages in a real browser: a run's DAG drawn as SVG with a node per task and
its state, a node followed (by mouse and by keyboard) to its task's section, and a failed run
retried with the page's button."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pmle.workspace import Workspace

FLAKY = """
from kfp import dsl


@dsl.component(base_image="python:3.11")
def first(x: int) -> int:
    print("first got", x)
    return x + 1


@dsl.component(base_image="python:3.11")
def flaky(x: int, marker: str) -> int:
    import os
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


def test_the_dag_links_to_tasks_and_a_retry(
    ws: Workspace, console: str, page: Any, browser_sign_in: Any, tmp_path: Path
) -> None:
    source = tmp_path / "flaky.py"
    source.write_text(FLAKY, encoding="utf-8")
    marker = tmp_path / "marker"
    run = ws.pipelines.run(source, {"x": 2, "marker": str(marker)})
    assert run.state == "FAILED"

    page.goto(f"{console}/pipelines")
    page.click(f'a[href="/pipelines/runs/{run.id}"]')
    page.wait_for_selector("svg.dag")
    nodes = page.locator("svg.dag g.node")
    assert nodes.count() == 3
    states = {
        nodes.nth(i).get_attribute("data-node"): nodes.nth(i).get_attribute("class")
        for i in range(3)
    }
    assert states == {
        "root/first": "node succeeded",
        "root/flaky": "node failed",
        "root/last": "node skipped",
    }
    assert page.locator("svg.dag").get_attribute("aria-label") == (
        f"Tasks of pipeline run {run.run_name}"
    )

    # a node is a link to its task's section
    page.click('svg.dag a[href="#task-root-flaky"]')
    assert page.url.endswith("#task-root-flaky")
    section = page.locator("#task-root-flaky")
    assert section.is_visible() and "RuntimeError: no marker yet" in section.inner_text()
    assert page.evaluate("document.querySelector(':target').id") == "task-root-flaky"
    # and reachable with the keyboard
    page.focus('svg.dag a[href="#task-root-first"]')
    page.keyboard.press("Enter")
    page.wait_for_function("location.hash === '#task-root-first'")
    assert "first got 2" in page.locator("#task-root-first").inner_text()

    # an editor retries the run with the page's button
    assert page.locator("button:has-text('Retry the run')").count() == 0  # not signed in
    browser_sign_in(page, console, ws)
    marker.touch()
    page.goto(f"{console}/pipelines/runs/{run.id}")
    page.click("button:has-text('Retry the run')")
    page.wait_for_selector("p.notice[role=status]")
    assert f"run {run.id}" in page.locator("p.notice").inner_text()
    deadline = time.monotonic() + 30
    while not ws.pipelines.get(run.id).ended:
        assert time.monotonic() < deadline, "the retried run did not end"
        time.sleep(0.1)
    page.reload()
    assert page.locator("h1 .state").inner_text() == "SUCCEEDED"
    assert page.locator('svg.dag g.node[data-node="root/flaky"]').get_attribute("class") == (
        "node succeeded"
    )
    assert page.locator('svg.dag g.node[data-node="root/first"]').get_attribute("class") == (
        "node cached"  # reused from the first attempt
    )
