"""Turn the SQL models benchmark's raw runs into the SQL models section of BENCHMARKS.md.

Reads every ``results/raw/<model>.json`` (bench.py) and writes the table (model type × pmle
CREATE MODEL, direct training, ratio, the metrics of both on the same evaluation rows), where
pmle's time goes (cProfile) and the goal check of issue 7 (ratio ≤ 1.2×). The section
``## SQL models (issue 7)`` of BENCHMARKS.md is replaced (other sections are left as they are);
the same text goes to ``results/report.md``. ``benchmarks/sqlml/notes.md`` is included
verbatim when it exists.

    python benchmarks/sqlml/report.py [--results DIR] [--no-write] [--benchmarks-md FILE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mdsection import notes, report_main  # noqa: E402

SECTION = "## SQL models (issue 7)"
ORDER = ["logistic_reg", "linear_reg", "boosted_tree_classifier"]
RATIO_GOAL = 1.2
DIRECT = {
    "logistic_reg": "pandas one-hot + standardise, scikit-learn `LogisticRegression(lbfgs, "
    "no penalty, max_iter=5000)`",
    "linear_reg": "pandas one-hot + standardise, scikit-learn `LinearRegression`",
    "boosted_tree_classifier": "pandas category codes, `lightgbm.train` with the same "
    "parameters and as many rounds as pmle kept after its early stop",
}


def load(results: Path) -> list[dict]:
    recs = []
    for p in sorted((results / "raw").glob("*.json")):
        try:
            recs.append(json.loads(p.read_text()))
        except (OSError, json.JSONDecodeError) as e:
            print(f"[report] skipping {p}: {e}", file=sys.stderr)
    return sorted(recs, key=lambda r: ORDER.index(r["model"]) if r["model"] in ORDER else 99)


def s(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f} s" if v >= 1 else f"{v * 1000:.0f} ms"


def metric(m: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in m.items() if isinstance(v, int | float)) or "—"


def build(results: Path) -> str:
    recs = load(results)
    lines = [SECTION, ""]
    if not recs:
        lines.append("No results yet: run `bash benchmarks/sqlml/run.sh`.")
        return "\n".join(lines) + "\n"
    m = recs[0]["machine"]
    lines.append(
        f"Generated {recs[0]['date']} by `bash benchmarks/sqlml/run.sh` "
        f"(`benchmarks/sqlml/report.py`). Machine: {m['cpus']} CPUs (nproc), {m['cpu']}, "
        f"{m['ram_gib']} GiB RAM, Linux {m['kernel']}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + "."
    )
    lines.append("")
    ok = [r for r in recs if r.get("status") == "ok"]
    rows = ok[0]["rows"] if ok else 0
    lines.append(
        f"Setup: one process; a {rows:,}-row table (the shipped telco churn rows resampled with "
        "jittered numbers, deterministic; 19 features, 10 of them strings) imported as a "
        'dataset. **pmle** = `ws.sql("CREATE OR REPLACE MODEL … OPTIONS(model_type=…, '
        'input_label_cols=[…]) AS SELECT * FROM big")`, the whole statement: DuckDB → pandas, '
        "AUTO_SPLIT (10,000 evaluation rows by row hashes), encoding, fit, evaluation, training "
        "statistics for ML.VALIDATE_DATA_SKEW, registration. **direct** = the same DataFrame "
        "already in memory, the same training / evaluation rows (picked before the clock), "
        "the same estimator and settings, then the same metric on the evaluation rows. Best of "
        f"{len(ok[0]['pmle_s']) if ok else '?'} repetitions per side (other processes only add "
        "time), sides alternating; every time is in the raw JSON. LINEAR_REG predicts "
        "`monthly_charges`, the classifiers `churn`."
    )
    lines.append("")
    lines.append(
        "| model type | train / eval rows | pmle CREATE MODEL | direct | pmle ÷ direct "
        "| pmle metric | direct metric | direct is |"
    )
    lines.append("|---|---:|---:|---:|---:|---|---|---|")
    for r in recs:
        if r.get("status") != "ok":
            lines.append(f"| {r['model'].upper()} | — | failed: {r.get('error', '?')} |||||")
            continue
        lines.append(
            f"| {r['model_type']} | {r['train_rows']:,} / {r['eval_rows']:,} "
            f"| {s(r['pmle_best_s'])} | {s(r['direct_best_s'])} | {r['ratio']:.2f}× "
            f"| {metric(r['pmle_metrics'])} | {metric(r['direct_metrics'])} "
            f"| {DIRECT.get(r['model'], '')} |"
        )
    lines.append("")
    profiled = [r for r in ok if r.get("parts")]
    if profiled:
        parts = list(profiled[0]["parts"])
        lines.append("Where pmle's statement goes (one more run under cProfile, cumulative s):")
        lines.append("")
        lines.append("| part | " + " | ".join(r["model_type"] for r in profiled) + " |")
        lines.append("|---|" + "---:|" * len(profiled))
        for part in parts:
            lines.append(
                f"| {part} | " + " | ".join(s(r["parts"].get(part)) for r in profiled) + " |"
            )
        lines.append("")
    lines.append("Goal (issue 7): CREATE MODEL within 1.2× of training directly on the data:")
    lines.append("")
    for r in ok:
        verdict = "PASS" if r["ratio"] <= RATIO_GOAL else "FAIL"
        lines.append(f"- {r['model_type']}: {verdict} ({r['ratio']:.2f}×)")
    lines.append("")
    lines.extend(notes(HERE))
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    report_main(build, HERE, SECTION)


if __name__ == "__main__":
    main()
