"""AutoML benchmark harness: pmle vs FLAML, AutoGluon (medium / best) and plain LightGBM.

Runs in the repo's venv. For every (budget, dataset, system), sequentially, it starts
``run_system.py`` in a fresh process with that system's interpreter, under a hard wall-clock
limit of ``budget * 3 + 120`` s (then the whole process group is killed and the run counts as a
failure), and then computes the metric from the saved test predictions with the same code for
every system. One JSON per run goes to ``results/raw/<budget>s/<dataset>/<system>.json`` (the
predictions sit beside it as ``<system>.predictions.parquet``).

Normally started by ``run.sh`` (which also creates the venvs and writes the report):

    python benchmarks/automl/bench.py --budgets 60,300 [--datasets a,b] [--systems x,y] [--resume]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from bench_datasets import DATASETS, HIGHER_IS_BETTER, METRIC  # noqa: E402
from prepare import DATA_DIR, prepare_one  # noqa: E402

SYSTEMS = ["pmle", "flaml", "ag_medium", "ag_best", "lightgbm"]
RESULTS = HERE / "results"


def python_for(system: str) -> Path:
    venvs = ROOT / "benchmarks" / ".venvs"
    return {
        "pmle": ROOT / ".venv" / "bin" / "python",
        "lightgbm": ROOT / ".venv" / "bin" / "python",
        "flaml": venvs / "flaml" / "bin" / "python",
        "ag_medium": venvs / "autogluon" / "bin" / "python",
        "ag_best": venvs / "autogluon" / "bin" / "python",
    }[system]


def hard_limit(budget: int) -> int:
    return budget * 3 + 120


# ------------------------------------------------------------------------------------ metrics


def score(meta: dict, pred_path: Path) -> tuple[str, float]:
    """The run's metric on the test set (AutoML Benchmark conventions)."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import log_loss, mean_squared_error, roc_auc_score

    test = pd.read_parquet(DATA_DIR / meta["name"] / "test.parquet")
    y = test[meta["target"]]
    pred = pd.read_parquet(pred_path)
    if len(pred) != len(y):
        raise ValueError(f"{len(pred)} predictions for {len(y)} test rows")
    metric = METRIC[meta["task"]]
    if metric == "rmse":
        p = pred["pred"].to_numpy(dtype="float64")
        if not np.all(np.isfinite(p)):
            raise ValueError("non-finite regression predictions")
        return metric, float(np.sqrt(mean_squared_error(y.to_numpy(dtype="float64"), p)))
    y = y.astype(str).to_numpy()
    classes = [str(c) for c in meta["classes"]]
    missing = [c for c in classes if c not in pred.columns]
    if missing and metric == "auc":
        raise ValueError(f"no probability column for classes {missing}")
    P = np.column_stack(
        [
            pred[c].to_numpy(dtype="float64") if c in pred.columns else np.zeros(len(pred))
            for c in classes
        ]
    )
    if not np.all(np.isfinite(P)):
        raise ValueError("non-finite probabilities")
    if metric == "auc":
        pos = meta["positive"]
        return metric, float(roc_auc_score(y == pos, P[:, classes.index(pos)]))
    # log loss: clip and renormalise, as sklearn would warn about otherwise
    P = np.clip(P, 1e-15, 1.0)
    P = P / P.sum(axis=1, keepdims=True)
    return metric, float(log_loss(y, P, labels=classes))


# ------------------------------------------------------------------------------------ running


def _kill_group(pgid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        time.sleep(3 if sig == signal.SIGTERM else 0)


def run_one(dataset: str, system: str, budget: int, seed: int, n_jobs: int, results: Path) -> dict:
    meta = prepare_one(DATASETS[dataset])
    out_dir = results / "raw" / f"{budget}s" / dataset
    out_dir.mkdir(parents=True, exist_ok=True)
    rec: dict = {
        "dataset": dataset,
        "system": system,
        "budget": budget,
        "seed": seed,
        "n_jobs": n_jobs,
        "task": meta["task"],
        "metric": METRIC[meta["task"]],
        "higher_is_better": HIGHER_IS_BETTER[METRIC[meta["task"]]],
        "n_train": meta["n_train"],
        "n_test": meta["n_test"],
        "data_sha256": meta["sha256"],
        "hard_limit_seconds": hard_limit(budget),
        "host": socket.gethostname(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "status": "error",
        "value": None,
    }
    py = python_for(system)
    if not py.exists():
        rec["error"] = f"no interpreter at {py}: run benchmarks/automl/setup_envs.sh"
        return _save(rec, out_dir, system)
    tmp = Path(tempfile.mkdtemp(prefix=f"automl-{dataset}-{system}-"))
    env = dict(os.environ)
    # Keep BLAS / OpenMP pools at the core allowance, whatever a library does by default.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(n_jobs)
    env["PYTHONHASHSEED"] = str(seed)
    env.pop("PYTHONPATH", None)
    cmd = [
        str(py),
        str(HERE / "run_system.py"),
        "--system",
        system,
        "--data",
        str(DATA_DIR / dataset),
        "--out",
        str(tmp),
        "--budget",
        str(budget),
        "--seed",
        str(seed),
        "--n-jobs",
        str(n_jobs),
    ]
    log_path = out_dir / f"{system}.log"
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(tmp), start_new_session=True
        )
        timed_out = False
        rusage = None
        deadline = t0 + hard_limit(budget)
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                rusage = ru
                proc.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() > deadline:
                timed_out = True
                _kill_group(proc.pid)
                _, status, rusage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                break
            time.sleep(0.2)
        _kill_group(proc.pid)  # stragglers (worker pools) left in the group
    rec["wall_seconds"] = round(time.perf_counter() - t0, 3)
    rec["exit_code"] = proc.returncode
    if rusage is not None:  # ru_maxrss: KiB on Linux; the largest process of the run
        rec["peak_rss_mb"] = round(rusage.ru_maxrss / 1024, 1)
    runner_json = tmp / "runner.json"
    runner = json.loads(runner_json.read_text()) if runner_json.exists() else {}
    for k in (
        "fit_seconds",
        "load_seconds",
        "runner_seconds",
        "predict_batch_seconds",
        "predict_rows_per_s",
        "latency_1row_ms",
        "info",
        "versions",
        "error",
        "error_type",
        "traceback",
        "stage",
    ):
        if k in runner:
            rec[k] = runner[k]
    if timed_out:
        rec["status"] = "timeout"
        rec["error"] = (
            f"killed after the hard limit of {hard_limit(budget)} s (budget {budget} s x 3 + 120 s)"
        )
    elif runner.get("status") == "ok":
        try:
            _, value = score(meta, tmp / "predictions.parquet")
            rec["value"] = value
            rec["status"] = "ok"
            shutil.copy(tmp / "predictions.parquet", out_dir / f"{system}.predictions.parquet")
        except Exception as e:
            rec["error"] = f"scoring failed: {type(e).__name__}: {e}"
    elif not runner:
        tail = log_path.read_text(errors="replace")[-1500:]
        rec["error"] = f"runner died (exit {proc.returncode}) without a report; log tail:\n{tail}"
    if rec.get("fit_seconds") is not None:
        rec["fit_over_budget"] = round(rec["fit_seconds"] / budget, 3)
    shutil.rmtree(tmp, ignore_errors=True)
    return _save(rec, out_dir, system)


def _save(rec: dict, out_dir: Path, system: str) -> dict:
    rec["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    (out_dir / f"{system}.json").write_text(json.dumps(rec, indent=1, default=str))
    return rec


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--budgets", default="60,300", help="seconds, comma-separated")
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--results", type=Path, default=RESULTS, help="results folder")
    p.add_argument(
        "--resume",
        action="store_true",
        help="skip runs whose result JSON already exists (status ok)",
    )
    a = p.parse_args(argv)
    budgets = [int(b.strip().rstrip("s")) for b in a.budgets.split(",") if b.strip()]
    datasets = [d.strip() for d in a.datasets.split(",") if d.strip()]
    systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    for d in datasets:
        if d not in DATASETS:
            raise SystemExit(f"unknown dataset {d!r}; known: {', '.join(DATASETS)}")
    for s in systems:
        if s not in SYSTEMS:
            raise SystemExit(f"unknown system {s!r}; known: {', '.join(SYSTEMS)}")
    for d in datasets:
        prepare_one(DATASETS[d])
    total = len(budgets) * len(datasets) * len(systems)
    print(
        f"[bench] {total} runs: budgets {budgets} x {len(datasets)} datasets x "
        f"{len(systems)} systems; n_jobs {a.n_jobs}; {platform.node()}",
        flush=True,
    )
    i = 0
    for budget in budgets:
        for dataset in datasets:
            for system in systems:
                i += 1
                res_json = a.results / "raw" / f"{budget}s" / dataset / f"{system}.json"
                if a.resume and res_json.exists():
                    old = json.loads(res_json.read_text())
                    if old.get("status") == "ok":
                        print(
                            f"[bench] {i}/{total} {budget}s {dataset} {system}: kept "
                            f"({old['metric']} {old['value']:.5g})",
                            flush=True,
                        )
                        continue
                print(f"[bench] {i}/{total} {budget}s {dataset} {system} ...", end=" ", flush=True)
                rec = run_one(dataset, system, budget, a.seed, a.n_jobs, a.results)
                if rec["status"] == "ok":
                    print(
                        f"{rec['metric']} {rec['value']:.5g}, fit {rec.get('fit_seconds')} s, "
                        f"wall {rec['wall_seconds']} s",
                        flush=True,
                    )
                else:
                    first = (rec.get("error") or "").strip().splitlines()
                    print(f"{rec['status'].upper()}: {first[0][:160] if first else ''}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
