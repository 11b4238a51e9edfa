"""Turn the serving benchmark's raw runs into the Serving section of BENCHMARKS.md.

Reads every ``results/raw/<system>-<rows>.json`` (bench.py) and writes: the table (system ×
payload: req/s, p50, p99, rows/s, failures, pmle ÷ system), pmle's adaptive batching off vs on
for single-row requests, the goal checks of issue 4, and the failed runs. The section
``## Serving (issue 4)`` of BENCHMARKS.md is replaced (other sections are left as they are); the
same text goes to ``results/report.md``. Hand-written analysis in ``benchmarks/serving/notes.md``
is included verbatim when that file exists, so it survives regeneration.

    python benchmarks/serving/report.py [--results DIR] [--no-write] [--benchmarks-md FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from mdsection import write_report  # noqa: E402

SECTION = "## Serving (issue 4)"
OURS = "pmle"
ORDER = ["pmle", "pmle-batch", "pmle-nobatch", "mlflow", "mlserver", "fastapi"]
PEERS = ["mlflow", "mlserver", "fastapi"]
GOALS = {"mlserver": 3.0, "mlflow": 3.0, "fastapi": 1.5}  # pmle req/s ≥ this × peer's
P99_GOAL_MS = 20.0
BATCH_GOAL = 3.0
DESCRIBE = {
    "pmle": "`pmle serve --workers 1`, Vertex AI `:predict` with `instances`",
    "mlflow": "`mlflow models serve -w 1 --env-manager local` (lightgbm flavor), "
    "`/invocations` with `dataframe_records`",
    "mlserver": "`mlserver start` with `mlserver_lightgbm`, V2 `/v2/models/bench/infer`, "
    "one FP64 tensor [rows, 19]",
    "fastapi": "FastAPI + uvicorn app, `LGBMClassifier.predict_proba` on a DataFrame per "
    "request, `/predict` with `instances`",
}


def load(results: Path) -> list[dict]:
    recs = []
    for p in sorted((results / "raw").glob("*.json")):
        try:
            recs.append(json.loads(p.read_text()))
        except (OSError, json.JSONDecodeError) as e:
            print(f"[report] skipping {p}: {e}", file=sys.stderr)
    return recs


def fmt_rate(v: float | None) -> str:
    if v is None:
        return "—"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e4:
        return f"{v / 1e3:.1f}k"
    return f"{v:,.0f}"


def fmt_ms(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def fmt_ratio(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}×"


def ok(r: dict | None) -> bool:
    return bool(r) and r.get("status") == "ok"


def rate(r: dict | None, key: str = "req_per_s") -> float | None:
    return r[key] if ok(r) else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def mark(passed: bool | None) -> str:
    return "n/a (a run is missing or failed)" if passed is None else ("PASS" if passed else "FAIL")


def machine_line(recs: list[dict]) -> str:
    m = next((r["machine"] for r in recs if r.get("machine")), None)
    if not m:
        return "?"
    return f"{m['cpus']} CPUs, {m['cpu']}, {m['kernel']}, Python {m['python']}, {m['wrk']}"


def versions_line(recs: list[dict]) -> str:
    seen: dict[str, dict] = {}
    for r in recs:
        if r.get("versions") and r["system"] not in seen:
            seen[r["system"]] = r["versions"]
    parts = []
    for s in ["pmle", *PEERS]:
        if s in seen:
            parts.append(f"{s}: " + ", ".join(f"{k} {v}" for k, v in seen[s].items()))
    return "; ".join(parts)


def build(results: Path) -> str:
    recs = load(results)
    by = {(r["label"], r["payload_rows"]): r for r in recs}
    payloads = sorted({r["payload_rows"] for r in recs})
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    L = [SECTION, ""]
    L.append(
        f"Generated {now} by `bash benchmarks/serving/run.sh` (`benchmarks/serving/report.py`). "
        f"Machine: {machine_line(recs)}."
    )
    L.append("")
    if not recs:
        L.append("No results yet: run `bash benchmarks/serving/run.sh`.")
        return "\n".join(L).rstrip() + "\n"
    r0 = recs[0]
    conns = sorted({r["connections"] for r in recs})
    durs = sorted({r["duration_s"] for r in recs})
    warm = sorted({r["warmup_s"] for r in recs})
    L.append(
        "Setup: one LightGBM binary classifier (200 trees, 31 leaves) trained on the demo telco "
        "churn data (7,043 rows, 19 features; the string columns as integer codes that LightGBM "
        "treats as categorical, so every system gets the same plain numbers — MLServer's "
        "LightGBM runtime takes numbers only), served by every system from its own venv. Each "
        f"server runs alone, pinned to CPU {r0['server_cpu']} (`taskset`, one worker, "
        f"OMP_NUM_THREADS=1, access log off); wrk runs on CPU {r0['client_cpu']} "
        f"(`-t{r0['wrk_threads']}`) with {', '.join(map(str, conns))} connections, "
        f"{', '.join(f'{d:g}' for d in warm)} s warm-up (discarded) then "
        f"{', '.join(f'{d:g}' for d in durs)} s of load, each request the same body of 1 or 100 "
        "real rows. Before any load every server's P(churn) for the 100 sample rows is checked "
        "against the booster's (|diff| ≤ 1e-6). req/s counts 2xx answers only; failures are "
        "non-2xx answers plus socket errors (connect, read, write, 10 s timeout). "
        "rows/s = req/s × rows per request."
    )
    L.append("")
    L.append("Systems: " + "; ".join(f"`{s}` — {DESCRIBE[s]}" for s in ["pmle", *PEERS]) + ".")
    L.append("")
    L.append(f"Versions: {versions_line(recs)}.")
    L.append("")
    t0 = min(r["started_at"] for r in recs)
    t1 = max(r.get("finished_at", r["started_at"]) for r in recs)
    L.append(f"Runs from {t0} to {t1} ({len(recs)} runs; a rerun replaces a run's result).")
    L.append("")

    # -- main table
    L.append(
        "| system | rows/request | req/s | p50 ms | p99 ms | rows/s | failures "
        "| pmle ÷ system (req/s) |"
    )
    L.append("|---|---|---|---|---|---|---|---|")
    labels = [x for x in ORDER if any(k[0] == x for k in by)]
    labels += sorted({k[0] for k in by} - set(labels))
    for n in payloads:
        ours = rate(by.get((OURS, n)))
        for lab in labels:
            r = by.get((lab, n))
            if r is None:
                continue
            name = lab if lab in PEERS or lab == OURS else f"{lab} ({_variant_note(r)})"
            if not ok(r):
                L.append(f"| {name} | {n} | {r['status'].upper()} | | | | | |")
                continue
            lat = r["latency"]
            rel = "—" if lab.startswith(OURS) else fmt_ratio(ratio(ours, r["req_per_s"]))
            L.append(
                f"| {name} | {n} | {fmt_rate(r['req_per_s'])} | {fmt_ms(lat.get('p50_ms'))} | "
                f"{fmt_ms(lat.get('p99_ms'))} | {fmt_rate(r['rows_per_s'])} | {r['failures']} | "
                f"{rel} |"
            )
    L.append("")

    # -- batching
    off, on = by.get(("pmle-nobatch", 1)), by.get(("pmle-batch", 1))
    if off or on:
        L.append("**pmle adaptive batching**, single-row requests, 64 connections:")
        L.append("")
        L.append("| deployment | deploy flags | req/s = rows/s | p50 ms | p99 ms | failures |")
        L.append("|---|---|---|---|---|---|")
        for lab, r in (
            ("batching off", off),
            ("batching on", on),
            ("default", by.get(("pmle", 1))),
        ):
            if r is None:
                continue
            flags = _deploy_flags(r)
            if not ok(r):
                L.append(f"| {lab} | {flags} | {r['status'].upper()} | | | |")
                continue
            lat = r["latency"]
            L.append(
                f"| {lab} | {flags} | {fmt_rate(r['rows_per_s'])} | {fmt_ms(lat.get('p50_ms'))} | "
                f"{fmt_ms(lat.get('p99_ms'))} | {r['failures']} |"
            )
        L.append("")

    # -- goals
    L.append("**Goals (issue 4):**")
    L.append("")
    for peer in ("mlserver", "mlflow", "fastapi"):
        goal = GOALS[peer]
        cells, verdicts = [], []
        for n in payloads:
            x = ratio(rate(by.get((OURS, n))), rate(by.get((peer, n))))
            cells.append(f"{n}-row {fmt_ratio(x)}")
            verdicts.append(None if x is None else x >= goal)
        if False in verdicts:
            verdict: bool | None = False
        elif verdicts and None not in verdicts:
            verdict = True
        else:
            verdict = None  # a run is missing or failed
        L.append(
            f"- pmle ≥ {goal:g}× the req/s of {peer}: {', '.join(cells)} — **{mark(verdict)}**"
        )
    r1 = by.get((OURS, 1))
    p99 = r1["latency"].get("p99_ms") if ok(r1) else None
    L.append(
        f"- pmle p99 < {P99_GOAL_MS:g} ms for single rows at {r0['connections']} connections: "
        f"{fmt_ms(p99)} ms — **{mark(None if p99 is None else p99 < P99_GOAL_MS)}**"
    )
    x = ratio(rate(on, "rows_per_s"), rate(off, "rows_per_s"))
    L.append(
        f"- adaptive batching ≥ {BATCH_GOAL:g}× the rows/s of batching off (single-row, "
        f"concurrent): {fmt_ratio(x)} — **{mark(None if x is None else x >= BATCH_GOAL)}**"
    )
    L.append("")

    # -- failures
    bad = [r for r in recs if not ok(r)]
    if bad:
        L.append("**Failed runs:**")
        L.append("")
        for r in bad:
            err = (r.get("error") or "").replace("\n", " ")[:300]
            L.append(f"- {r['label']}, {r['payload_rows']}-row: {r['status']} — {err}")
        L.append("")
    shaky = [r for r in recs if ok(r) and r.get("failures")]
    if shaky:
        L.append(
            "Runs with failed requests: "
            + ", ".join(f"{r['label']} {r['payload_rows']}-row ({r['failures']})" for r in shaky)
            + "."
        )
        L.append("")

    notes = HERE / "notes.md"
    if notes.exists():
        L.append("### Analysis")
        L.append("")
        L.append(notes.read_text().strip())
        L.append("")
    return "\n".join(L).rstrip() + "\n"


def _deploy_flags(r: dict) -> str:
    for cmd in r.get("setup_cmds") or []:
        if "deploy" in cmd:
            i = cmd.index("--model") + 2 if "--model" in cmd else len(cmd)
            flags = " ".join(cmd[i:])
            return f"`{flags}`" if flags else "(none)"
    return "?"


def _variant_note(r: dict) -> str:
    return {"batch": "batching on", "nobatch": "batching off"}.get(r.get("variant", ""), "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--results", type=Path, default=HERE / "results")
    p.add_argument("--benchmarks-md", type=Path, default=ROOT / "BENCHMARKS.md")
    p.add_argument("--no-write", action="store_true", help="print only")
    a = p.parse_args(argv)
    text = build(a.results)
    if a.no_write:
        print(text)
        return 0
    write_report(text, a.results, a.benchmarks_md, SECTION)
    md = a.benchmarks_md
    print(text)
    print(f"[report] wrote {md} (section '{SECTION}') and {a.results / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
