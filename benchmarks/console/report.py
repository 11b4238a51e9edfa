"""Turn the console benchmark's raw results (results/raw.json, bench.py) into the section
``## Web console (issue 11)`` of BENCHMARKS.md (and results/report.md): every page's load time
in chromium and its server time, MLflow's UI for the two pages it has, and the goal check
(every page under 300 ms). ``notes.md`` is included when it exists.

    python benchmarks/console/report.py [--results DIR] [--no-write] [--benchmarks-md FILE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import workload as w  # noqa: E402
from mdsection import cpu_model, notes, report_main  # noqa: E402

SECTION = "## Web console (issue 11)"
GOAL_MS = 300.0


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def build(results: Path) -> str:
    lines = [SECTION, ""]
    path = results / "raw.json"
    if not path.exists():
        return "\n".join([*lines, "No results yet: run `bash benchmarks/console/run.sh`.", ""])
    raw = json.loads(path.read_text())
    meta, pmle, mlflow = raw["meta"], raw["pmle"], raw.get("mlflow", {})
    lines += [
        f"Generated {meta['started']} by `bash benchmarks/console/run.sh` "
        f"(`benchmarks/console/report.py`). Machine: {meta['cpus']} CPUs, {cpu_model()}; load "
        f"average {meta['load_start']:.2f} at the start, {meta['load_end']:.2f} at the end. "
        f"Browser: Debian's chromium {meta.get('chromium', '?')} driven by Playwright, "
        f"1366×900. MLflow {meta.get('mlflow', '—')} (`mlflow server`, SQLite store, 1 worker).",
        "",
        f"Workload (`workload.py`, `pmle_build.py`, `mlflow_side.py`): {w.RUNS:,} tracked runs "
        f"in one experiment ({w.PARAMS} params, {w.METRICS} metrics × {w.STEPS} steps each), "
        f"{w.MODELS} registered models, {w.PIPELINE_RUNS} pipeline runs, plus for pmle a "
        "dataset, an endpoint with two deployments (90/10), a monitor with 10 drifting runs, a "
        "30-trial tuning study, a materialized feature view and an exam attempt. MLflow gets "
        "the same runs and registered models. Each page is loaded from `about:blank` "
        f"{meta['reps']} times after one warm-up load (the browser's cache warm, as on a "
        "second visit); the time runs from navigation to the page being ready: its heading "
        "there and every chart on screen drawn (charts below the fold are drawn right after, "
        "one per task: *all charts* column). For MLflow's single-page app, ready means the "
        "newest run's (or the first model's) name is on screen. *Server* is the median of "
        f"{meta['reps'] * 3} GETs of the page's HTML with httpx.",
        "",
        "| page | URL | server | load, ready (median) | load, slowest | all charts drawn "
        "| MLflow UI (median) | MLflow ÷ pmle |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    slowest = 0.0
    failures = []
    for label, r in pmle.items():
        if "median_ms" not in r:
            lines.append(f"| {label} | `{r['url']}` | HTTP {r.get('status')} | — | — | — | — | — |")
            failures.append(label)
            continue
        peer = mlflow.get(label)
        ratio = f"**{peer['median_ms'] / r['median_ms']:.1f}×**" if peer else "—"
        slowest = max(slowest, r["median_ms"])
        if r["median_ms"] >= GOAL_MS:
            failures.append(label)
        lines.append(
            f"| {label} | `{r['url']}` | {r['server']['median_ms']:.1f} ms | "
            f"**{ms(r['median_ms'])}** | {ms(r['max_ms'])} | "
            f"{ms(r.get('all_charts_median_ms')) if r.get('charts') else 'no charts'} | "
            f"{ms(peer['median_ms']) if peer else '—'} | {ratio} |"
        )
    lines.append("")
    verdict = "PASS" if not failures and pmle else "FAIL"
    lines.append(
        f"Goal (issue 11): every page loads under {GOAL_MS:.0f} ms with {w.RUNS:,} runs, "
        f"{w.MODELS} models and {w.PIPELINE_RUNS} pipeline runs: **{verdict}** (slowest "
        f"median {slowest:,.0f} ms"
        + (f"; over the goal or failing: {', '.join(failures)}" if failures else "")
        + ")."
    )
    lines.append("")
    lines += notes(HERE)
    return "\n".join(lines) + "\n"


def main() -> None:
    report_main(build, HERE, SECTION)


if __name__ == "__main__":
    main()
