"""Turn the raw run results into the AutoML section of BENCHMARKS.md.

Reads every ``results/raw/<budget>s/<dataset>/<system>.json`` and writes, per budget: the metric
table (dataset x system), mean rank per system, pmle's win rate against each peer, failures,
fit wall time vs budget, prediction throughput and 1-row latency, and per dataset the
fastest-predicting system among those within 1% of the best metric. The section
``## AutoML (issue 3)`` of BENCHMARKS.md is replaced (other sections are left as they are); the
same text goes to ``results/report.md``. Hand-written analysis in ``benchmarks/automl/notes.md``
is included verbatim when that file exists, so it survives regeneration.

    python benchmarks/automl/report.py [--results DIR] [--budgets 60,300] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_datasets import DATASETS, HIGHER_IS_BETTER  # noqa: E402
from mdsection import cpu_model, write_report  # noqa: E402

SECTION = "## AutoML (issue 3)"
SYSTEM_ORDER = ["pmle", "flaml", "ag_medium", "ag_best", "lightgbm"]
OURS = "pmle"
WITHIN = 0.01  # "within 1% of the best metric"


def machine() -> str:
    cpu = cpu_model()
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    nproc = os.cpu_count()
    try:
        nproc = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip())
    except Exception:
        pass
    return f"{nproc} CPUs (`nproc`), {cpu}, {ram} RAM, {platform.system()} {platform.release()}"


def load(results: Path) -> list[dict]:
    recs = []
    for p in sorted((results / "raw").glob("*s/*/*.json")):
        try:
            recs.append(json.loads(p.read_text()))
        except (OSError, json.JSONDecodeError) as e:
            print(f"[report] skipping {p}: {e}", file=sys.stderr)
    return recs


def fmt_metric(metric: str, v: float | None) -> str:
    if v is None:
        return "—"
    if metric == "rmse":
        return f"{v:.4g}" if abs(v) >= 1000 else f"{v:.4f}"
    return f"{v:.4f}"


def fmt_rate(v: float | None) -> str:
    if v is None:
        return "—"
    if v >= 1e6:
        return f"{v / 1e6:.1f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def ranks(values: dict[str, float | None], higher: bool) -> dict[str, float]:
    """Average ranks (1 = best); failures share the last places."""
    ok = {s: v for s, v in values.items() if v is not None}
    failed = [s for s in values if values[s] is None]
    order = sorted(ok, key=lambda s: -ok[s] if higher else ok[s])
    out: dict[str, float] = {}
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and ok[order[j + 1]] == ok[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    if failed:
        r = (len(ok) + 1 + len(values)) / 2
        for s in failed:
            out[s] = r
    return out


def better(a: float | None, b: float | None, higher: bool) -> int:
    """1 if a beats b, 0 tie, -1 if b beats a (a failure loses to a result)."""
    if a is None and b is None:
        return 0
    if a is None:
        return -1
    if b is None:
        return 1
    if a == b:
        return 0
    return 1 if (a > b) == higher else -1


def budget_section(budget: int, recs: list[dict]) -> list[str]:
    by = {(r["dataset"], r["system"]): r for r in recs}
    datasets = [d for d in DATASETS if any(r["dataset"] == d for r in recs)]
    systems = [s for s in SYSTEM_ORDER if any(r["system"] == s for r in recs)]
    val = {k: (r["value"] if r.get("status") == "ok" else None) for k, r in by.items()}
    L: list[str] = [f"### Budget {budget} s", ""]

    # -- metric table
    L.append("| dataset (metric) | " + " | ".join(systems) + " |")
    L.append("|---" * (len(systems) + 1) + "|")
    all_ranks: dict[str, list[float]] = {s: [] for s in systems}
    fastest_rows = []
    for d in datasets:
        metric = next(r["metric"] for r in recs if r["dataset"] == d)
        higher = HIGHER_IS_BETTER[metric]
        vals = {s: val.get((d, s)) for s in systems if (d, s) in by}
        ok = [v for v in vals.values() if v is not None]
        best = (max(ok) if higher else min(ok)) if ok else None
        cells = []
        for s in systems:
            if (d, s) not in by:
                cells.append("")
            elif vals[s] is None:
                cells.append("FAIL" if by[(d, s)]["status"] != "timeout" else "TIMEOUT")
            else:
                c = fmt_metric(metric, vals[s])
                cells.append(f"**{c}**" if vals[s] == best else c)
        arrow = "↑" if higher else "↓"
        L.append(f"| {d} ({metric} {arrow}) | " + " | ".join(cells) + " |")
        if len(vals) == len(systems):  # rank only where every system ran
            for s, r in ranks(vals, higher).items():
                all_ranks[s].append(r)
        # fastest among those within 1% of the best
        if best is not None:
            tol = abs(best) * WITHIN
            near = [
                s
                for s, v in vals.items()
                if v is not None and (v >= best - tol if higher else v <= best + tol)
            ]
            speed = {s: by[(d, s)].get("predict_rows_per_s") or 0.0 for s in near}
            fast = max(near, key=lambda s: speed[s])
            fastest_rows.append((d, near, fast, speed))
    L.append("")
    L.append("Best per row in bold. AUC: higher is better; log loss and RMSE: lower is better.")
    L.append("")

    # -- mean rank
    n_ranked = max((len(v) for v in all_ranks.values()), default=0)
    L.append(
        f"**Mean rank** (1 = best; failures share the last places; over {n_ranked} "
        "datasets where every system ran):"
    )
    L.append("")
    L.append("| " + " | ".join(systems) + " |")
    L.append("|---" * len(systems) + "|")
    mr = {s: (statistics.mean(all_ranks[s]) if all_ranks[s] else None) for s in systems}
    best_mr = min((v for v in mr.values() if v is not None), default=None)
    L.append(
        "| "
        + " | ".join(
            ("—" if mr[s] is None else (f"**{mr[s]:.2f}**" if mr[s] == best_mr else f"{mr[s]:.2f}"))
            for s in systems
        )
        + " |"
    )
    L.append("")

    # -- win rate of pmle
    if OURS in systems:
        peers = [s for s in systems if s != OURS]
        L.append(
            f"**{OURS} vs each peer** (wins-ties-losses over datasets; a failure loses; "
            "win rate counts a tie as half):"
        )
        L.append("")
        L.append("| peer | W-T-L | win rate |")
        L.append("|---|---|---|")
        for peer in peers:
            w = t = lo = 0
            for d in datasets:
                if (d, OURS) not in by or (d, peer) not in by:
                    continue
                higher = HIGHER_IS_BETTER[by[(d, OURS)]["metric"]]
                b = better(val.get((d, OURS)), val.get((d, peer)), higher)
                w, t, lo = w + (b > 0), t + (b == 0), lo + (b < 0)
            n = w + t + lo
            rate = f"{(w + t / 2) / n:.0%}" if n else "—"
            L.append(f"| {peer} | {w}-{t}-{lo} | {rate} |")
        L.append("")

    # -- failures
    fails = [r for r in recs if r.get("status") != "ok"]
    L.append(f"**Failures**: {len(fails)} of {len(recs)} runs.")
    if fails:
        L.append("")
        L.append("| dataset | system | status | error |")
        L.append("|---|---|---|---|")
        for r in sorted(fails, key=lambda r: (r["system"], r["dataset"])):
            err = (r.get("error") or "").strip().splitlines()
            msg = (err[0] if err else "")[:180].replace("|", "\\|")
            L.append(f"| {r['dataset']} | {r['system']} | {r['status']} | {msg} |")
    L.append("")

    # -- wall time vs budget
    L.append(
        "**Wall time vs budget** (fit call / budget: mean, max over datasets; the whole "
        "run's process wall time in seconds, including start-up, data load, prediction "
        "timing; peak RSS of the largest process):"
    )
    L.append("")
    L.append(
        "| system | fit/budget mean | fit/budget max | process wall mean (s) | peak RSS max (MB) |"
    )
    L.append("|---|---|---|---|---|")
    for s in systems:
        rs = [by[(d, s)] for d in datasets if (d, s) in by]
        fb = [r["fit_seconds"] / budget for r in rs if r.get("fit_seconds") is not None]
        wl = [r["wall_seconds"] for r in rs if r.get("wall_seconds") is not None]
        rss = [r["peak_rss_mb"] for r in rs if r.get("peak_rss_mb") is not None]
        cells = [
            f"{statistics.mean(fb):.2f}" if fb else "—",
            f"{max(fb):.2f}" if fb else "—",
            f"{statistics.mean(wl):.0f}" if wl else "—",
            f"{max(rss):.0f}" if rss else "—",
        ]
        L.append(f"| {s} | " + " | ".join(cells) + " |")
    L.append("")

    # -- throughput
    L.append(
        "**Prediction** of each final model: rows/s predicting the whole test set "
        "(best of 2) / latency of a 1-row predict in ms (median of 20); probabilities "
        "for classification:"
    )
    L.append("")
    L.append("| dataset | " + " | ".join(systems) + " |")
    L.append("|---" * (len(systems) + 1) + "|")
    for d in datasets:
        cells = []
        for s in systems:
            r = by.get((d, s))
            if r is None or r.get("status") != "ok":
                cells.append("—")
            else:
                cells.append(
                    f"{fmt_rate(r.get('predict_rows_per_s'))} / "
                    f"{r.get('latency_1row_ms', float('nan')):.2f}"
                )
        L.append(f"| {d} | " + " | ".join(cells) + " |")
    L.append("")

    # -- fastest within 1%
    L.append(
        "**Fastest prediction among the systems within 1% of the best metric** "
        "(rows/s on the test set):"
    )
    L.append("")
    L.append("| dataset | within 1% of best | fastest | rows/s |")
    L.append("|---|---|---|---|")
    pmle_fastest = 0
    for d, near, fast, speed in fastest_rows:
        pmle_fastest += fast == OURS
        L.append(f"| {d} | {', '.join(near)} | {fast} | {fmt_rate(speed[fast])} |")
    L.append("")

    # -- goal line
    if OURS in systems:
        ours_fail = sum(1 for r in fails if r["system"] == OURS)
        best_sys = [s for s in systems if mr[s] is not None and mr[s] == best_mr]
        L.append(
            f"**Goal check** ({budget} s): best mean rank: {', '.join(best_sys) or '—'} "
            f"({OURS}: {'—' if mr.get(OURS) is None else f'{mr[OURS]:.2f}'}); "
            f"{OURS} failures: {ours_fail}; {OURS} fastest within 1% of best on "
            f"{pmle_fastest} of {len(fastest_rows)} datasets."
        )
        L.append("")
    return L


def build(results: Path, budgets: list[int] | None) -> str:
    recs = load(results)
    found = sorted({r["budget"] for r in recs})
    budgets = [b for b in (budgets or found) if b in found]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    L = [SECTION, ""]
    L.append(
        f"Generated {now} by `bash benchmarks/automl/run.sh` "
        f"(`benchmarks/automl/report.py`). Machine: {machine()}."
    )
    L.append("")
    # setup: systems and versions
    versions: dict[str, str] = {}
    for r in recs:
        v = (r.get("info") or {}).get("version")
        if v and r["system"] not in versions:
            extra = ""
            vs = r.get("versions") or {}
            if r["system"] in ("flaml", "ag_medium", "ag_best"):
                extra = ", ".join(
                    f"{k} {vs[k]}" for k in ("lightgbm", "xgboost", "catboost", "pandas") if k in vs
                )
            versions[r["system"]] = f"{v}" + (f" ({extra})" if extra else "")
    n_jobs = sorted({r.get("n_jobs") for r in recs}) or [2]
    ag_ray = (
        "with ray"
        if any("ray" in (r.get("versions") or {}) for r in recs if r["system"].startswith("ag_"))
        else "no ray"
    )
    L.append(
        "Setup: every (dataset, system, budget) runs alone in a fresh process, one after "
        f"another, with n_jobs / num_cpus = {', '.join(map(str, n_jobs))}; hard limit "
        "budget × 3 + 120 s (then killed: a failure). Same 80/20 split (seed 0, stratified "
        "for classification) for every system; string columns are given to every system as "
        "pandas categoricals. Systems: `pmle` (`AutoMLClassifier`/`AutoMLRegressor`), "
        "`flaml` (`AutoML.fit(time_budget=budget)`), `ag_medium` / `ag_best` (AutoGluon "
        "`TabularPredictor.fit(time_limit=budget, presets='medium_quality' | "
        "'best_quality')`, LightGBM/CatBoost/XGBoost models, no torch models, "
        f"{ag_ray}), "
        "`lightgbm` (default `LGBMClassifier`/`LGBMRegressor`, the floor; its fit ignores "
        "the budget)."
    )
    L.append("")
    if versions:
        L.append(
            "Versions: "
            + "; ".join(f"{s} {versions[s]}" for s in SYSTEM_ORDER if s in versions)
            + "."
        )
        L.append("")
    # datasets
    metas = {}
    for d in DATASETS:
        mp = HERE / "data" / d / "meta.json"
        if mp.exists():
            metas[d] = json.loads(mp.read_text())
    used = [d for d in DATASETS if any(r["dataset"] == d for r in recs)] or list(metas)
    L.append("| dataset | source | task | target | train rows × features | test rows |")
    L.append("|---|---|---|---|---|---|")
    for d in used:
        m = metas.get(d)
        if m:
            L.append(
                f"| {d} | {m['source']} | {m['task']} | `{m['target']}` | "
                f"{m['n_train']} × {m['n_features']} | {m['n_test']} |"
            )
    L.append("")
    if not recs:
        L.append("No results yet: run `bash benchmarks/automl/run.sh` (budgets 60 s and 300 s).")
        L.append("")
    else:
        t0 = min(r["started_at"] for r in recs)
        t1 = max(r.get("finished_at", r["started_at"]) for r in recs)
        L.append(f"Runs from {t0} to {t1} ({len(recs)} runs; a rerun replaces a run's result).")
        L.append("")
    for b in budgets:
        L.extend(budget_section(b, [r for r in recs if r["budget"] == b]))
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
    p.add_argument("--budgets", default="", help="only these budgets (default: all found)")
    p.add_argument("--benchmarks-md", type=Path, default=ROOT / "BENCHMARKS.md")
    p.add_argument("--no-write", action="store_true", help="print only")
    a = p.parse_args(argv)
    budgets = [int(b.rstrip("s")) for b in a.budgets.split(",") if b.strip()] or None
    text = build(a.results, budgets)
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
