"""Turn the tracking benchmark's raw results into the experiment tracking section of
BENCHMARKS.md.

Reads ``results/raw/{pmle,mlflow,meta}.json`` (bench.py) and writes the table (workload ×
pmle, MLflow, pmle ÷ MLflow speed), where pmle's time goes (cProfile) and the goal check of
issue 8 (≥ 5× faster logging and querying). The section ``## Experiment tracking (issue 8)``
of BENCHMARKS.md is replaced (other sections are left as they are); the same text goes to
``results/report.md``. ``benchmarks/tracking/notes.md`` is included verbatim when it exists.

    python benchmarks/tracking/report.py [--results DIR] [--no-write] [--benchmarks-md FILE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mdsection import notes, report_main  # noqa: E402

SECTION = "## Experiment tracking (issue 8)"
GOAL = 5.0
QUERY_ROWS = {
    "top100": "query: `metrics.m3 > 0.5 AND params.lr = '0.1'` by `metrics.m3 DESC`, top 100",
    "tenth": "query: `metrics.m7 > 0.8 AND params.optimizer = 'adam'` (~10 %), all, as run objects",
    "tenth_frame": "query: the same ~10 %, as a pandas DataFrame",
    "get_run": "one run by id (5 params, 20 latest metrics, tags)",
    "history": "one metric's full history (1,000 points)",
}
#: what each side calls, per query
CALLS = {
    "top100": (
        "`ws.tracking.runs(…, max_results=100)`",
        "`MlflowClient.search_runs(…, max_results=100)`",
    ),
    "tenth": (
        "`ws.tracking.runs(…, max_results=None)`",
        "`MlflowClient.search_runs(…, max_results=50000)`",
    ),
    "tenth_frame": ("`ws.tracking.runs_frame(…, max_results=None)`", "`mlflow.search_runs(…)`"),
    "get_run": ("`ws.tracking.run(id)`", "`MlflowClient.get_run(id)`"),
    "history": (
        "`ws.tracking.metric_history(id, key)`",
        "`MlflowClient.get_metric_history(id, key)`",
    ),
}


def load(results: Path) -> tuple[dict | None, dict | None, dict]:
    out: list[Any] = []
    for name in ("pmle", "mlflow", "meta"):
        path = results / "raw" / f"{name}.json"
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as e:
            print(f"[report] no {path}: {e}", file=sys.stderr)
            out.append(None)
    return out[0], out[1], out[2] or {}


def t(v: float) -> str:
    """A duration: s, ms or µs."""
    if v >= 10:
        return f"{v:.1f} s"
    if v >= 1:
        return f"{v:.2f} s"
    if v >= 0.01:
        return f"{v * 1000:.0f} ms"
    if v >= 0.001:
        return f"{v * 1000:.1f} ms"
    return f"{v * 1000:.2f} ms"


def rows(p: dict, m: dict) -> list[tuple[str, str, str, float, str]]:
    """(workload, pmle, MLflow, speed ratio, found) per table row; the ratio is how many
    times faster pmle is (MLflow's time ÷ pmle's)."""
    pb, mb = p["batch"], m["batch"]
    out = [
        (
            f"logging, batch: create run, 5 params, 20 metrics in one call, end "
            f"(pmle {pb['runs']:,} runs, MLflow {mb['runs']:,})",
            f"{t(pb['total_s'])} ({pb['runs_per_s']:.0f} runs/s, {pb['ms_per_run']:.2f} ms/run)",
            f"{t(mb['total_s'])} ({mb['runs_per_s']:.0f} runs/s, {mb['ms_per_run']:.2f} ms/run)",
            mb["ms_per_run"] / pb["ms_per_run"],
            "—",
        ),
        (
            f"logging, one call per value: `log_metric` × 20 in each of {p['single']['runs']:,} "
            "runs, per call",
            f"{p['single']['ms_per_call']:.2f} ms",
            f"{m['single']['ms_per_call']:.2f} ms",
            m["single"]["ms_per_call"] / p["single"]["ms_per_call"],
            f"{p['single']['calls']:,} calls",
        ),
    ]
    for key, label in QUERY_ROWS.items():
        pq, mq = p["queries"].get(key), m["queries"].get(key)
        if pq is None or mq is None:
            continue
        found = (
            f"{pq['count']:,}"
            if pq["count"] == mq["count"]
            else f"{pq['count']:,} / {mq['count']:,}"
        )
        out.append(
            (label, t(pq["median_s"]), t(mq["median_s"]), mq["median_s"] / pq["median_s"], found)
        )
    return out


def verdict(ratio: float) -> str:
    return "PASS" if ratio >= GOAL else "FAIL"


def profile_table(prof: dict[str, Any], count: int = 8) -> list[str]:
    lines = ["| function (own time) | calls | own | cumulative |", "|---|---:|---:|---:|"]
    for r in prof["own"][:count]:
        lines.append(f"| `{r['function']}` | {r['calls']:,} | {t(r['own_s'])} | {t(r['cum_s'])} |")
    lines += ["", "| pmle function (cumulative) | calls | cumulative |", "|---|---:|---:|"]
    for r in prof["pmle"][:count]:
        lines.append(f"| `{r['function']}` | {r['calls']:,} | {t(r['cum_s'])} |")
    return lines


def build(results: Path) -> str:
    p, m, meta = load(results)
    lines = [SECTION, ""]
    if p is None or m is None:
        lines.append("No results yet: run `bash benchmarks/tracking/run.sh`.")
        return "\n".join(lines) + "\n"
    versions = {**p["versions"], "mlflow": m["versions"].get("mlflow", "?")}
    lines.append(
        f"Generated {meta.get('date', '?')} by `bash benchmarks/tracking/run.sh` "
        f"(`benchmarks/tracking/report.py`). Machine: {meta.get('cpus', '?')} CPUs (nproc), "
        f"{meta.get('cpu', '?')}, {meta.get('ram_gib', '?')} GiB RAM, Linux "
        f"{meta.get('kernel', '?')}; load average {meta.get('load_at_start', ['?'])[0]} at the "
        "start. Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + (
            f" (MLflow's venv: Python {m['versions']['python']}, SQLAlchemy "
            f"{m['versions']['sqlalchemy']}, SQLite {m['versions']['sqlite']})."
        )
    )
    lines.append("")
    n = p["batch"]["runs"]
    lines.append(
        f"Setup: each side in its own process and venv, one after the other, in a fresh "
        "temporary folder: **pmle** = `ws.tracking` on a new workspace (its SQLite metadata "
        "database), **MLflow** = `MlflowClient` on `sqlite:///…/mlflow.db`, created and "
        "migrated before the clock starts. Both log the same runs (a seeded RNG): "
        f"{n:,} runs in one experiment, each with 5 parameters (`lr`, `optimizer`, `depth`, "
        "`batch_size`, `seed`) and 20 metrics `m0`…`m19` (uniform in [0, 1), step 0) — pmle "
        "`start_run(…, params=…)`, `log_metrics({…}, step=0)`, `end()`; MLflow `create_run`, "
        "`log_batch(metrics=[20 Metric], params=[5 Param])`, `set_terminated`. The "
        "one-call-per-value runs go to another experiment and are logged after the queries. "
        f"Queries run over the {n:,} batch-logged runs; median of {p.get('reps', '?')} calls "
        "each (every time is in the raw JSON); the metric history is of one extra run with a "
        "1,000-point curve. Both sides found the same runs for every query (checked by "
        "bench.py: counts, and the same names in the same order for the top 100)."
    )
    lines.append("")
    if m["batch"]["runs"] != n:
        lines.append(
            f"**MLflow logged {m['batch']['runs']:,} runs, pmle {n:,}: MLflow's query times "
            f"are over its {m['batch']['runs']:,} runs.**"
        )
        lines.append("")
    lines.append("| workload | pmle | MLflow | pmle ÷ MLflow speed | runs found |")
    lines.append("|---|---:|---:|---:|---:|")
    table = rows(p, m)
    for label, pv, mv, ratio, found in table:
        lines.append(f"| {label} | {pv} | {mv} | **{ratio:.1f}×** | {found} |")
    lines.append("")
    lines.append(
        "Calls: " + "; ".join(f"{key}: pmle {a}, MLflow {b}" for key, (a, b) in CALLS.items()) + "."
    )
    lines.append("")

    def per_run(side: dict) -> str:
        cps = side["batch"]["checkpoints"]
        if len(cps) < 2:
            return "—"
        (n1, t1), (n0, t0), (nl, tl) = cps[0], cps[-2], cps[-1]
        first, last = t1 / n1 * 1000, (tl - t0) / (nl - n0) * 1000
        return f"{first:.2f} ms/run for the first {n1:,}, {last:.2f} for the last {nl - n0:,}"

    lines.append(
        f"Batch logging as the store grows: pmle {per_run(p)}; MLflow {per_run(m)}. "
        f"Peak RSS: pmle {p['peak_rss_mib']:.0f} MiB, MLflow {m['peak_rss_mib']:.0f} MiB. "
        f"Database on disk at the end: pmle {p['store_mib']:.1f} MiB (the whole workspace "
        f"metadata), MLflow {m['store_mib']:.1f} MiB. Wall time of each side's process (opening "
        f"the store included): pmle {t(p['wall_s'])}"
        + (" with the profiled pass" if p.get("after") else "")
        + f", MLflow {t(m['wall_s'])}."
    )
    lines.append("")

    prof = p.get("after")
    if prof:
        b = prof["batch"]
        lines.append(
            f"Where pmle's batch logging goes ({b['runs']:,} more runs under cProfile, "
            f"{t(b['total_s'])} with the profiler's overhead; top own times, then pmle's "
            "functions by cumulative time):"
        )
        lines.append("")
        lines.extend(profile_table(b))
        lines.append("")
        queries = [(k, v) for k, v in prof.items() if k != "batch"]
        if queries:
            ratios = {r[0]: r[3] for r in table}
            worst = min(
                queries,
                key=lambda kv: ratios.get(QUERY_ROWS.get(kv[0], ""), float("inf")),
            )
            key, q = worst
            lines.append(
                f"Where pmle's time goes in the query with the lowest ratio ({key}, "
                f"{q.get('calls', 1)} calls under cProfile, {t(q['total_s'])} in all):"
            )
            lines.append("")
            lines.extend(profile_table(q))
            lines.append("")

    lines.append(f"Goal (issue 8): ≥ {GOAL:.0f}× faster logging and querying than MLflow:")
    lines.append("")
    logging_rows, query_rows = table[:2], table[2:]
    for label, _pv, _mv, ratio, _found in logging_rows:
        lines.append(f"- {label.split(':')[0]}: {verdict(ratio)} ({ratio:.2f}×)")
    for label, _pv, _mv, ratio, _found in query_rows:
        short = next((k for k, v in QUERY_ROWS.items() if v == label), label)
        lines.append(f"- querying, {short}: {verdict(ratio)} ({ratio:.2f}×)")
    lines.append("")
    ok_log = all(r[3] >= GOAL for r in logging_rows)
    ok_query = all(r[3] >= GOAL for r in query_rows)
    lines.append(
        f"Logging: **{'PASS' if ok_log else 'FAIL'}**; querying: "
        f"**{'PASS' if ok_query else 'FAIL'}** (every row must be ≥ {GOAL:.0f}×)."
    )
    lines.append("")
    lines.extend(notes(HERE))
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    report_main(build, HERE, SECTION)


if __name__ == "__main__":
    main()
