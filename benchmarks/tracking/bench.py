"""Experiment tracking benchmark (issue 8): pmle's tracking against MLflow's (SQLite backend),
the same workload (workload.py) on both, each side in its own process and venv, one after
the other (never both at once).

- pmle_side.py in pmle's venv (with --profile N: N more batch-logged runs and each query once
  more under cProfile, after the timed work);
- mlflow_side.py in MLflow's venv (benchmarks/.venvs/serving-mlflow, or --mlflow-python).

Each prints its results as JSON; this script checks that both found the same runs for every
query (same counts; same names, in the same order, for the ordered top 100), and writes
results/raw/{pmle,mlflow,meta}.json for report.py.

    python benchmarks/tracking/bench.py [--runs 10000] [--mlflow-runs N] [--single-runs 500]
                                        [--reps 7] [--profile 1000] [--sides pmle,mlflow]
                                        [--results DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from mdsection import cpu_model  # noqa: E402

MLFLOW_PYTHON = ROOT / "benchmarks" / ".venvs" / "serving-mlflow" / "bin" / "python"


def run_side(python: str, script: str, args: list[str]) -> tuple[dict[str, Any], float]:
    """Run one side's driver; its JSON result (the last line of stdout) and wall seconds."""
    command = [python, str(HERE / script), *args]
    print(f"[bench] {' '.join(command)}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"[bench] {script} failed (exit {done.returncode})")
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise SystemExit(f"[bench] {script} printed no JSON result")
    return json.loads(lines[-1]), wall


def check_same(pmle: dict[str, Any], mlflow: dict[str, Any]) -> list[str]:
    """Both sides found the same runs for each query; the lines that say so. Raises
    AssertionError when they did not."""
    lines = []
    same_n = pmle["batch"]["runs"] == mlflow["batch"]["runs"]
    for key, p in pmle["queries"].items():
        m = mlflow["queries"][key]
        lines.append(f"{key}: pmle {p['count']}, MLflow {m['count']}")
        if not same_n:
            continue  # different stores: nothing to compare
        assert p["count"] == m["count"], f"{key}: pmle found {p['count']}, MLflow {m['count']}"
        for field in ("names", "names_hash", "params", "metrics"):
            if field in p:
                assert p[field] == m[field], f"{key}: the sides differ in {field}"
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--mlflow-runs", type=int, default=None, help="default: --runs")
    parser.add_argument("--single-runs", type=int, default=500)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--profile", type=int, default=1000, help="0: no profiled pass")
    parser.add_argument("--sides", default="pmle,mlflow")
    parser.add_argument("--mlflow-python", default=str(MLFLOW_PYTHON))
    parser.add_argument("--results", type=Path, default=HERE / "results")
    args = parser.parse_args()
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    if not set(sides) <= {"pmle", "mlflow"}:
        parser.error("--sides takes pmle, mlflow or both")
    if "mlflow" in sides and not os.access(args.mlflow_python, os.X_OK):
        raise SystemExit(
            f"[bench] no MLflow venv at {args.mlflow_python}: "
            "bash benchmarks/serving/setup_envs.sh mlflow (or pass --mlflow-python)"
        )
    load = os.getloadavg()
    raw = args.results / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    common = ["--single-runs", str(args.single_runs), "--reps", str(args.reps)]
    for side in sides:
        if side == "pmle":
            extra = ["--profile", str(args.profile)] if args.profile > 0 else []
            result, wall = run_side(
                sys.executable, "pmle_side.py", ["--runs", str(args.runs), *common, *extra]
            )
        else:
            n = args.mlflow_runs or args.runs
            result, wall = run_side(
                args.mlflow_python, "mlflow_side.py", ["--runs", str(n), *common]
            )
        result["wall_s"] = wall
        (raw / f"{side}.json").write_text(json.dumps(result, indent=1))
        print(f"[bench] {side}: {wall:.0f} s", flush=True)

    try:
        pmle = json.loads((raw / "pmle.json").read_text())
        mlflow = json.loads((raw / "mlflow.json").read_text())
    except OSError as e:
        print(f"[bench] one side has no results yet ({e}); no comparison", file=sys.stderr)
        return 0
    checked = check_same(pmle, mlflow)
    for line in checked:
        print(f"[bench] {line}")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "ram_gib": round(ram, 1),
        "kernel": platform.release(),
        "load_at_start": [round(v, 2) for v in load],
        "load_at_end": [round(v, 2) for v in os.getloadavg()],
        "counts": checked,
        "same_runs": pmle["batch"]["runs"] == mlflow["batch"]["runs"],
    }
    (raw / "meta.json").write_text(json.dumps(meta, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
