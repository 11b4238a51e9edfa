"""Turn the monitoring benchmark's raw runs into the Monitoring section of BENCHMARKS.md.

Reads every ``results/raw/<system>-<size>.json`` (bench.py) and writes: the data, the table
(size × system: process wall time, time after imports by phase, peak RSS, whether exactly the
two shifted features were flagged, Evidently ÷ pmle), the goal checks of issue 5 and each
feature's distance on both sides. The section ``## Monitoring (issue 5)`` of BENCHMARKS.md is
replaced (other sections are left as they are); the same text goes to ``results/report.md``.
Hand-written analysis in ``benchmarks/monitoring/notes.md`` is included verbatim when that file
exists, so it survives regeneration.

    python benchmarks/monitoring/report.py [--results DIR] [--no-write] [--benchmarks-md FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from features import CHARGES_FACTOR, CONTRACT_P, KINDS, SHIFTED, SIZES  # noqa: E402
from mdsection import write_report  # noqa: E402

SECTION = "## Monitoring (issue 5)"
SYSTEMS = ["pmle", "evidently"]
SPEEDUP_GOAL = 50.0  # at 1M rows, Evidently's wall time ÷ pmle's
WALL_GOAL_S = 10.0  # pmle at 10M rows
RSS_GOAL_MB = 2048.0  # pmle at 10M rows


def load(results: Path) -> dict[tuple[str, str], dict[str, Any]]:
    recs = {}
    for p in sorted((results / "raw").glob("*.json")):
        try:
            r = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as e:
            print(f"[report] skipping {p}: {e}", file=sys.stderr)
            continue
        recs[(r["system"], r["size"])] = r
    return recs


def summary(r: dict[str, Any] | None) -> dict[str, Any] | None:
    if not r or r.get("status") != "ok":
        return None
    s: dict[str, Any] = r["summary"]
    return s


def secs(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def mark(passed: bool | None) -> str:
    return "n/a (a run is missing or failed)" if passed is None else ("PASS" if passed else "FAIL")


def rows_label(size: str) -> str:
    n = SIZES[size]
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:g}k"


def build(results: Path) -> str:
    recs = load(results)
    sizes = [s for s in SIZES if any((sys_, s) in recs for sys_ in SYSTEMS)]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    any_rec = next(iter(recs.values()), {})
    m = any_rec.get("machine", {})
    runs = [run for r in recs.values() for run in r.get("runs", [])]
    starts = sorted(run["started"] for run in runs)
    loads = [run["load_average"] for run in runs]
    L = [SECTION, ""]
    L.append(
        f"Generated {now} by `bash benchmarks/monitoring/run.sh` "
        f"(`benchmarks/monitoring/report.py`). Machine: {m.get('cpus', '?')} CPUs (`nproc`), "
        f"{m.get('cpu_model', '?')}, {m.get('mem_gib', '?')} GiB RAM, Linux {m.get('kernel', '?')}."
    )
    if starts:
        L.append(
            f"Runs from {starts[0]} to {starts[-1]}; 1-minute load average when a run started: "
            f"{min(loads):.2f}–{max(loads):.2f} (the machine was shared when it is above ~0.5)."
        )
    L.append("")
    n_num = sum(1 for k in KINDS.values() if k == "numeric")
    contract = ", ".join(f"{k} {v:.0%}" for k, v in CONTRACT_P.items())
    L.append(
        "Data: pmle's demo telco churn data (7,043 real rows, 19 features) resampled with "
        "replacement to N rows, plus one derived feature (`services`, how many of six add-on "
        f"services are Yes): 20 features, {n_num} numeric and {len(KINDS) - n_num} categorical "
        "(kinds as pmle's schema inference gives them), Parquet (zstd). The reference file "
        "draws rows with seed 0, the current file with seed 1 and a planted shift in exactly "
        f"two features: `monthly_charges` × {CHARGES_FACTOR:g} and `contract` drawn as "
        f"{contract} (≈ 55/21/24 % in the reference). `benchmarks/monitoring/make_data.py`."
    )
    L.append("")
    L.append(
        "Setup: every run is a fresh process of the system's own virtualenv, one at a time; "
        "wall time is the whole process (interpreter start and imports included), peak RSS is "
        "the process's `ru_maxrss`. **pmle**: `duckdb.connect()` with its defaults → "
        "`sql_histograms.fit` on `read_parquet(reference)` → `drift.detect` on "
        "`read_parquet(current)` (JS divergence over 10 quantile buckets for numeric features, "
        "L-infinity for categorical ones, threshold 0.3). **Evidently**: `pd.read_parquet` of "
        "both files → `Report([DataDriftPreset()]).run(current, reference)` with a "
        "`DataDefinition` naming the same numeric and categorical columns (at these sizes "
        "Evidently picks Wasserstein distance (normed) for numeric columns with more than 5 "
        "distinct values and Jensen–Shannon distance for the others, threshold 0.1; its default "
        "report, including its per-column summaries). Both must flag exactly the two shifted "
        "features. Times are medians over the runs; peak RSS the largest."
    )
    L.append("")
    versions = []
    for s in SYSTEMS:
        for size in sizes:
            sm = summary(recs.get((s, size)))
            if sm:
                versions.append(f"{s}: " + ", ".join(f"{k} {v}" for k, v in sm["versions"].items()))
                break
    if versions:
        L.append("Versions: " + "; ".join(versions) + ".")
        L.append("")

    L.append(
        "| rows (each file) | system | runs | process wall (s) | after imports (s) | phases (s) "
        "| peak RSS (MB) | flags exactly the 2 shifted | Evidently ÷ pmle (wall) "
        "| Evidently ÷ pmle (after imports) |"
    )
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        ours = summary(recs.get(("pmle", size)))
        for s in SYSTEMS:
            r = recs.get((s, size))
            if r is None:
                continue
            sm = summary(r)
            if sm is None:
                why = r.get("reason") or r.get("status", "?")
                L.append(f"| {rows_label(size)} | {s} | — | {why} | | | | | | |")
                continue
            phases = ", ".join(f"{k} {secs(v)}" for k, v in sm["phases"].items())
            flags = "yes" if sm["flags_ok"] else f"**no**: {', '.join(sm['flagged'])}"
            if s != "pmle" and ours:
                wall = f"{sm['wall_s'] / ours['wall_s']:.0f}×"
                work = f"{sm['work_s'] / ours['work_s']:.0f}×"
            else:
                wall = work = "—"
            L.append(
                f"| {rows_label(size)} | {s} | {sm['runs']} | {secs(sm['wall_s'])} "
                f"| {secs(sm['work_s'])} | {phases} | {sm['peak_rss_mb']:,.0f} | {flags} "
                f"| {wall} | {work} |"
            )
    L.append("")

    L.append("**Goals (issue 5):**")
    L.append("")
    ours_1m, theirs_1m = summary(recs.get(("pmle", "1m"))), summary(recs.get(("evidently", "1m")))
    if ours_1m and theirs_1m:
        wall = theirs_1m["wall_s"] / ours_1m["wall_s"]
        work = theirs_1m["work_s"] / ours_1m["work_s"]
        ok = wall >= SPEEDUP_GOAL and ours_1m["flags_ok"] and theirs_1m["flags_ok"]
        L.append(
            f"- ≥ {SPEEDUP_GOAL:.0f}× faster than Evidently at 1M rows: {wall:.0f}× in process "
            f"wall time ({work:.0f}× after imports), both flagging exactly the shifted features "
            f"— **{mark(ok)}**"
        )
    else:
        L.append(f"- ≥ {SPEEDUP_GOAL:.0f}× faster than Evidently at 1M rows — **{mark(None)}**")
    ours_10m = summary(recs.get(("pmle", "10m")))
    if ours_10m:
        L.append(
            f"- 10M rows within {WALL_GOAL_S:.0f} s: {secs(ours_10m['wall_s'])} s process wall "
            f"(fit + detect {secs(ours_10m['work_s'])} s) — "
            f"**{mark(ours_10m['wall_s'] <= WALL_GOAL_S and ours_10m['flags_ok'])}**"
        )
        L.append(
            f"- 10M rows under 2 GB: peak RSS {ours_10m['peak_rss_mb']:,.0f} MB — "
            f"**{mark(ours_10m['peak_rss_mb'] < RSS_GOAL_MB)}**"
        )
    else:
        L.append(f"- 10M rows within {WALL_GOAL_S:.0f} s and under 2 GB — **{mark(None)}**")
    L.append("")

    both = [
        size
        for size in sizes
        if summary(recs.get(("pmle", size))) and summary(recs.get(("evidently", size)))
    ]
    if both:
        size = both[-1]
        ours, theirs = summary(recs[("pmle", size)]), summary(recs[("evidently", size)])
        assert ours and theirs
        L.append(
            f"**Per feature at {rows_label(size)} rows** (distance, * = flagged; shifted: "
            f"{', '.join(f'`{f}`' for f in SHIFTED)}):"
        )
        L.append("")
        L.append("| feature | kind | pmle metric | pmle | Evidently method | Evidently |")
        L.append("|---|---|---|---|---|---|")
        for f, kind in KINDS.items():
            a, b = ours["features"].get(f, {}), theirs["features"].get(f, {})
            fa = "*" if f in ours["flagged"] else ""
            fb = "*" if f in theirs["flagged"] else ""
            L.append(
                f"| `{f}` | {kind} | {a.get('metric', a.get('method', '?'))} "
                f"| {a.get('value', float('nan')):.4f}{fa} | {b.get('method', '?')} "
                f"| {b.get('value', float('nan')):.4f}{fb} |"
            )
        L.append("")

    notes = HERE / "notes.md"
    if notes.exists():
        L.append("### Analysis")
        L.append("")
        L.append(notes.read_text().strip())
        L.append("")
    return "\n".join(L).rstrip() + "\n"


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
