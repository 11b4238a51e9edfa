"""Screenshots of the console's main pages for docs/console/ (and the README), taken with
Debian's chromium from a real `pmle serve` over a workspace (the console benchmark's, made by
`benchmarks/console/pmle_build.py`, by default).

    .venv/bin/python scripts/console_screenshots.py [--ws DIR] [--out docs/console]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ws", type=Path, default=ROOT / "benchmarks" / "console" / "work" / "ws")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "console")
    a = ap.parse_args()
    import httpx
    from playwright.sync_api import sync_playwright

    import pmle

    ws = pmle.open_workspace(a.ws)
    secret = ws.tokens.create(f"screenshots-{int(time.time())}")
    run_id = ws.pipelines.list(limit=1)[0].id
    exam = ws.exam.latest_open("exam") or ws.exam.start_exam()
    ws.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PMLE_WORKSPACE": str(a.ws)}
    server = subprocess.Popen(
        [sys.executable, "-m", "pmle", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        a.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-background-networking"],
            )
            page = browser.new_context(viewport={"width": 1366, "height": 860}).new_page()
            page.goto(f"{base}/login")
            page.fill("#token", secret)
            page.click("button[type=submit]")
            page.wait_for_selector("text=Signed in.")

            def shot(path: str, name: str, dark: bool = False) -> None:
                page.goto(base + path)
                page.evaluate(
                    "t => { document.documentElement.setAttribute('data-theme', t);"
                    " window.pmleRenderCharts && window.pmleRenderCharts(); }",
                    "dark" if dark else "light",
                )
                page.wait_for_function(
                    "() => document.querySelectorAll('figure.chart:not([data-rendered])')"
                    ".length === 0",
                    timeout=30_000,
                )
                page.wait_for_timeout(300)
                page.screenshot(path=str(a.out / f"{name}.png"))
                print(f"wrote {a.out / name}.png")

            shot("/", "overview")
            shot("/models/model-000", "model")
            shot("/endpoints/churn", "endpoint")
            shot(f"/pipelines/runs/{run_id}", "pipeline-run")
            shot("/experiments/bench", "experiment-runs")
            shot("/monitors/churn-drift", "monitor", dark=True)
            shot("/datasets/churn", "dataset")
            shot(f"/exam/attempts/{exam.id}", "exam-question")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
