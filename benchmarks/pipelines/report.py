"""Turn the pipelines benchmark's raw runs into the Pipelines section of BENCHMARKS.md.

Reads every ``results/raw/<system>-<pipeline>.json`` (bench.py) and writes the table (pipeline ×
system: first-run wall, per-step overhead, cached rerun wall, cached per step, kfp ÷ pmle), the
CPU use of the fan-out and the goal checks of issue 6. The section ``## Pipelines (issue 6)`` of
BENCHMARKS.md is replaced (other sections are left as they are); the same text goes to
``results/report.md``. ``benchmarks/pipelines/notes.md`` is included verbatim when it exists.

    python benchmarks/pipelines/report.py [--results DIR] [--no-write] [--benchmarks-md FILE]
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mdsection import notes, report_main  # noqa: E402

SECTION = "## Pipelines (issue 6)"
PIPELINES = ["chain20", "fanout50"]
SYSTEMS = ["pmle", "kfp"]
DESCRIBE = {
    "pmle": '`ws.pipelines.run("pipelines.py:<name>", {})` in a fresh workspace (repo venv)',
    "kfp": "`kfp.local.init(runner=SubprocessRunner(use_venv=False), enable_caching=True)` then "
    "calling the pipeline (own venv, `kfp==2.17.3` only, its `bin/` first on PATH)",
}
OVERHEAD_GOAL_S = 0.05
RATIO_GOAL = 7.0
CACHED_STEP_GOAL_S = 0.005


def load(results: Path) -> dict[tuple[str, str], dict]:
    recs = {}
    for p in sorted((results / "raw").glob("*.json")):
        try:
            r = json.loads(p.read_text())
            recs[(r["pipeline"], r["system"])] = r
        except (OSError, json.JSONDecodeError, KeyError) as e:
            print(f"[report] skipping {p}: {e}", file=sys.stderr)
    return recs


def ok(m: dict | None) -> bool:
    return bool(m) and m.get("status") == "ok"


def s(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.2f} s" if v >= 1 else f"{v * 1000:.0f} ms" if v >= 0.01 else f"{v * 1000:.1f} ms"


def x(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.1f}×" if v >= 1 else f"{v:.3f}×"


def mark(p: bool | None) -> str:
    return "n/a (a run is missing or failed)" if p is None else ("PASS" if p else "FAIL")


def num(r: dict | None, phase: str, key: str = "wall_s") -> float | None:
    if not r or not ok(r.get(phase)):
        return None
    return r[phase].get(key)


def per(v: float | None, n: int) -> float | None:
    return None if v is None else v / n


def build(results: Path) -> str:
    recs = load(results)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    L = [SECTION, ""]
    any_r = next(iter(recs.values()), None)
    m = any_r["machine"] if any_r else None
    mline = (
        f"{m['cpus']} CPUs (nproc), {m['cpu']}, {m['ram_gib']} GiB RAM, Linux {m['kernel']}"
        if m
        else "?"
    )
    L.append(
        f"Generated {now} by `bash benchmarks/pipelines/run.sh` "
        "(`benchmarks/pipelines/report.py`). "
        f"Machine: {mline}."
    )
    L.append("")
    if not recs:
        L.append("No results yet: run `bash benchmarks/pipelines/run.sh`.")
        return "\n".join(L).rstrip() + "\n"
    vers = {}
    for r in recs.values():
        vers.setdefault(r["system"], r["versions"])
    L.append(
        "Versions: "
        + "; ".join(
            f"{sname}: " + ", ".join(f"{k} {v}" for k, v in vers[sname].items())
            for sname in SYSTEMS
            if sname in vers
        )
        + "."
    )
    L.append("")
    L.append(
        "Setup: the same pipelines (`benchmarks/pipelines/pipelines.py`, kfp.dsl) on both systems: "
        "`chain20`, 20 lightweight `inc(x: int) -> int` steps (x + 1) each taking the previous "
        "output; `fanout50`, `dsl.ParallelFor` over `range(50)` calling `inc`, `dsl.Collected` "
        "into one `total` step (51 steps). The steps do no work, so per-step overhead = "
        "wall ÷ steps. "
        "Each measurement is a fresh process; the cached rerun is a second fresh process on the "
        "same workspace / pipeline root. Wall = the run call (pmle: `ws.pipelines.run`, which "
        "also imports kfp and compiles the `.py`; kfp: calling the pipeline function, the `.py` "
        'already imported); "process" = the whole process (interpreter start, imports, run). '
        '"warm cached" = the cached run repeated in the same process. Systems: '
        + "; ".join(f"`{k}` — {v}" for k, v in DESCRIBE.items())
        + "."
    )
    L.append("")
    L.append(
        "| pipeline | system | first run wall | per step | process wall | cached rerun wall "
        "| cached per step | warm cached per step | kfp ÷ pmle (first) | kfp ÷ pmle (cached) |"
    )
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p in PIPELINES:
        pm, kf = recs.get((p, "pmle")), recs.get((p, "kfp"))
        for sname in SYSTEMS:
            r = recs.get((p, sname))
            if not r:
                continue
            n = r["steps"]
            f, c = num(r, "first"), num(r, "cached")
            w = num(r, "cached", "warm_wall_s")
            pw = num(r, "first", "process_wall_s")
            rf = rc_ = "—"
            if sname == "kfp":
                a, b = num(kf, "first"), num(pm, "first")
                rf = x(a / b) if a and b else "—"
                a, b = num(kf, "cached"), num(pm, "cached")
                rc_ = x(a / b) if a and b else "—"
            status = "" if ok(r["first"]) and ok(r["cached"]) else " (failed)"
            L.append(
                f"| {p} ({n} steps) | {sname}{status} | {s(f)} | {s(per(f, n))} | {s(pw)} "
                f"| {s(c)} | {s(per(c, n))} | {s(per(w, n))} | {rf} | {rc_} |"
            )
    L.append("")
    fan = recs.get(("fanout50", "pmle"))
    cpu, wall = num(fan, "first", "cpu_s"), num(fan, "first")
    kfan = recs.get(("fanout50", "kfp"))
    kcpu, kwall = num(kfan, "first", "cpu_s"), num(kfan, "first")
    if cpu and wall:
        L.append(
            f"Fan-out CPU use (first run; CPU time of the process and its reaped children during "
            f"the run call ÷ wall): pmle {cpu:.2f} s / {wall:.2f} s = {cpu / wall:.2f}"
            + (
                f"; kfp.local {kcpu:.1f} s / {kwall:.1f} s = {kcpu / kwall:.2f}"
                if kcpu and kwall
                else ""
            )
            + "."
        )
        L.append("")
    L.append("Goals (issue 6):")
    L.append("")
    for p in PIPELINES:
        pm, kf = recs.get((p, "pmle")), recs.get((p, "kfp"))
        f = per(num(pm, "first"), pm["steps"]) if pm else None
        kfs = per(num(kf, "first"), kf["steps"]) if kf else None
        L.append(
            f"- {p}: pmle per-step overhead ≤ {OVERHEAD_GOAL_S} s: "
            f"{mark(None if f is None else f <= OVERHEAD_GOAL_S)} ({s(f)})"
        )
        ratio = kfs / f if f and kfs else None
        L.append(
            f"- {p}: ≥ {RATIO_GOAL:g}× better than kfp.local per step: "
            f"{mark(None if ratio is None else ratio >= RATIO_GOAL)} ({x(ratio)})"
        )
        c = per(num(pm, "cached"), pm["steps"]) if pm else None
        w = per(num(pm, "cached", "warm_wall_s"), pm["steps"]) if pm else None
        L.append(
            f"- {p}: pmle cached step ≤ {CACHED_STEP_GOAL_S * 1000:g} ms in a running process: "
            f"{mark(None if w is None else w <= CACHED_STEP_GOAL_S)} ({s(w)})"
        )
        L.append(
            f"- {p}: pmle cached step ≤ {CACHED_STEP_GOAL_S * 1000:g} ms in a fresh process "
            f"(start-up included): {mark(None if c is None else c <= CACHED_STEP_GOAL_S)} "
            f"({s(c)})"
        )
    L.append(
        f"- fanout50: pmle uses both cores (CPU ÷ wall > 1): "
        f"{mark(None if not (cpu and wall) else cpu / wall > 1)}"
        + (f" ({cpu / wall:.2f})" if cpu and wall else "")
    )
    L.append("")
    L.extend(notes(HERE))
    return "\n".join(L).rstrip() + "\n"


def main() -> None:
    report_main(build, HERE, SECTION)


if __name__ == "__main__":
    main()
