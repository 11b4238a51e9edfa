"""Console page loads (issue 11): every console page of a workspace holding 1,000 runs, 100
models and 50 pipeline runs, loaded in Debian's chromium (Playwright) from a real `pmle serve`,
and the two pages MLflow's UI has for the same data (the experiment's runs, the registered
models) from a real `mlflow server` over the same runs and models. Also each pmle page's
server time alone (httpx). Raw JSON to results/raw.json.

    python bench.py [--reps 7] [--work DIR] [--results DIR] [--sides pmle,mlflow]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import workload as w  # noqa: E402

PMLE = ROOT / ".venv" / "bin"
MLFLOW = ROOT / "benchmarks" / ".venvs" / "serving-mlflow" / "bin"
CHROMIUM = "/usr/bin/chromium"
#: the page's heading there and every chart on screen drawn (charts below the fold are drawn
#: afterwards, one per task; the page is usable before)
PMLE_READY = (
    "() => document.querySelector('main h1') !== null && "
    "Array.from(document.querySelectorAll('figure.chart:not([data-rendered])')).every("
    "f => f.getBoundingClientRect().top >= window.innerHeight)"
)
#: every chart on the page drawn, below the fold too (reported apart)
PMLE_ALL_CHARTS = (
    "() => document.querySelectorAll('figure.chart:not([data-rendered])').length === 0"
)


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode})")
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready in {timeout_s:.0f} s")


def build(work: Path, sides: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "pmle" in sides and not (work / "ws").exists():
        log("building the pmle workspace")
        r = subprocess.run(
            [str(PMLE / "python"), str(HERE / "pmle_build.py"), "--ws", str(work / "ws")],
            check=True,
            capture_output=True,
            text=True,
        )
        out["pmle"] = json.loads(r.stdout.strip().splitlines()[-1])
    if "mlflow" in sides and not (work / "mlflow" / "mlflow.db").exists():
        log("building the MLflow store")
        r = subprocess.run(
            [str(MLFLOW / "python"), str(HERE / "mlflow_side.py"), "--dir", str(work / "mlflow")],
            check=True,
            capture_output=True,
            text=True,
        )
        out["mlflow"] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def measure(page: Any, url: str, ready: str, reps: int) -> dict[str, Any]:
    """Navigate from a blank page to `url` until `ready` (a JS predicate) holds; ms each."""
    times = []
    for i in range(reps + 1):
        page.goto("about:blank")
        t0 = time.perf_counter()
        page.goto(url, wait_until="load")
        page.wait_for_function(ready, timeout=60_000)
        elapsed = (time.perf_counter() - t0) * 1000
        if i:  # the first load warms the browser's cache, as a user's first visit does
            times.append(elapsed)
    return {"url": url, "ms": times, "median_ms": statistics.median(times), "max_ms": max(times)}


def server_times(url: str, reps: int) -> dict[str, Any]:
    import httpx

    times = []
    with httpx.Client() as client:
        for i in range(reps + 1):
            t0 = time.perf_counter()
            r = client.get(url)
            elapsed = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                return {"status": r.status_code}
            if i:
                times.append(elapsed)
    return {"status": 200, "median_ms": statistics.median(times), "bytes": len(r.content)}


def pmle_pages(ws_dir: Path) -> list[tuple[str, str]]:
    sys.path.insert(0, str(ROOT / "src"))
    import pmle

    ws = pmle.open_workspace(ws_dir)
    run_id = ws.pipelines.list()[0].id
    ws.close()
    return [
        ("overview", "/"),
        ("datasets", "/datasets"),
        ("dataset", "/datasets/churn"),
        ("models", "/models"),
        ("model", f"/models/{w.model_name(0)}"),
        ("endpoints", "/endpoints"),
        ("endpoint", "/endpoints/churn"),
        ("pipeline runs", "/pipelines"),
        ("pipeline run (DAG)", f"/pipelines/runs/{run_id}"),
        ("experiments", "/experiments"),
        ("experiment runs", f"/experiments/{w.EXPERIMENT}"),
        ("jobs and studies", "/jobs"),
        ("tuning study", "/jobs/studies/bench-study"),
        ("monitors", "/monitors"),
        ("monitor", "/monitors/churn-drift"),
        ("features", "/features"),
        ("feature view", "/features/spend"),
        ("exam", "/exam"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--sides", default="pmle,mlflow")
    a = ap.parse_args()
    sides = a.sides.split(",")
    a.work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_start": os.getloadavg()[0],
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "reps": a.reps,
        },
        "build": build(a.work, sides),
        "pmle": {},
        "mlflow": {},
    }
    from playwright.sync_api import sync_playwright

    procs: list[subprocess.Popen[bytes]] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-background-networking"],
            )
            out["meta"]["chromium"] = browser.version
            if "pmle" in sides:
                port = free_port()
                env = {**os.environ, "PMLE_WORKSPACE": str(a.work / "ws")}
                proc = subprocess.Popen(
                    [str(PMLE / "pmle"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                procs.append(proc)
                base = f"http://127.0.0.1:{port}"
                wait_http(f"{base}/health", proc)
                page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
                for label, path in pmle_pages(a.work / "ws"):
                    server = server_times(base + path, a.reps * 3)
                    if server.get("status") != 200:
                        log(f"pmle {label}: HTTP {server.get('status')}, skipped")
                        out["pmle"][label] = {"url": path, "status": server.get("status")}
                        continue
                    ready = PMLE_READY
                    if label == "experiment runs":
                        newest = w.run_name(w.RUNS - 1)
                        ready += f" && document.body.innerText.includes('{newest}')"
                    if label == "models":
                        ready += f" && document.body.innerText.includes('{w.model_name(0)}')"
                    m = measure(page, base + path, ready, a.reps)
                    charts = page.evaluate("document.querySelectorAll('figure.chart').length")
                    m_all = measure(page, base + path, PMLE_ALL_CHARTS, a.reps) if charts else None
                    out["pmle"][label] = {
                        **m,
                        "url": path,
                        "server": server,
                        "charts": charts,
                        "all_charts_median_ms": m_all["median_ms"] if m_all else None,
                    }
                    log(
                        f"pmle {label}: {m['median_ms']:.0f} ms "
                        f"(server {server['median_ms']:.1f} ms)"
                    )
            if "mlflow" in sides:
                port = free_port()
                store = f"sqlite:///{a.work / 'mlflow' / 'mlflow.db'}"
                proc = subprocess.Popen(
                    [
                        str(MLFLOW / "mlflow"),
                        "server",
                        "--backend-store-uri",
                        store,
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--workers",
                        "1",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                procs.append(proc)
                base = f"http://127.0.0.1:{port}"
                wait_http(f"{base}/health", proc)
                out["meta"]["mlflow"] = subprocess.run(
                    [str(MLFLOW / "python"), "-c", "import mlflow; print(mlflow.__version__)"],
                    capture_output=True,
                    text=True,
                ).stdout.strip()
                page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
                # MLflow 3 opens in its GenAI mode, whose experiment page shows traces; its
                # "Model training" mode (kept in localStorage) shows the runs table
                page.goto(f"{base}/#/experiments", wait_until="load")
                page.click("text=Model training")
                page.wait_for_timeout(1000)
                for label, path, text in (
                    ("experiment runs", "/#/experiments/1/runs", w.run_name(w.RUNS - 1)),
                    ("models", "/#/models", w.model_name(0)),
                ):
                    ready = f"() => document.body.innerText.includes('{text}')"
                    m = measure(page, base + path, ready, a.reps)
                    out["mlflow"][label] = m
                    log(f"mlflow {label}: {m['median_ms']:.0f} ms")
            browser.close()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    out["meta"]["load_end"] = os.getloadavg()[0]
    a.results.mkdir(parents=True, exist_ok=True)
    (a.results / "raw.json").write_text(json.dumps(out, indent=1))
    log(f"wrote {a.results / 'raw.json'}")


if __name__ == "__main__":
    main()
