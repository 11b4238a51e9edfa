"""The tracking benchmark's workload, shared by both sides (standard library only: it is
imported by pmle's venv and by MLflow's).

Every value comes from a seeded `random.Random`, so pmle and MLflow log exactly the same
runs, parameters and metric values, and the queries must find the same runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

SEED = 8
EXPERIMENT = "bench"  # the batch-logged runs, the ones queried
SINGLE_EXPERIMENT = "bench-single"  # the runs logged one call per value
WARMUP_EXPERIMENT = "warmup"
METRICS = [f"m{i}" for i in range(20)]
HISTORY_EXPERIMENT = "bench-history"  # one run with a long curve, logged untimed…
HISTORY_KEY = "curve"  # …of this metric…
HISTORY_STEPS = 1000  # …with this many points

#: (name, what it is, filter, order by, max results; None = all)
QUERIES = [
    (
        "top100",
        "metric + param filter, ordered by a metric, top 100",
        "metrics.m3 > 0.5 AND params.lr = '0.1'",
        "metrics.m3 DESC",
        100,
    ),
    (
        "tenth",
        "metric + param filter returning ~10% of runs, all of them",
        "metrics.m7 > 0.8 AND params.optimizer = 'adam'",
        None,
        None,
    ),
    (
        "tenth_frame",
        "the same ~10%, as a pandas DataFrame",
        "metrics.m7 > 0.8 AND params.optimizer = 'adam'",
        None,
        None,
    ),
]


def params_of(rng: random.Random, i: int) -> dict[str, str]:
    """The 5 parameters of run `i` (text, as both stores keep them)."""
    return {
        "lr": rng.choice(["0.1", "0.01", "0.001", "0.0001"]),
        "optimizer": rng.choice(["adam", "sgd"]),
        "depth": str(rng.randint(3, 10)),
        "batch_size": rng.choice(["32", "64", "128", "256"]),
        "seed": str(i),
    }


def runs(count: int, seed: int = SEED) -> Iterator[tuple[str, dict[str, str], dict[str, float]]]:
    """(run name, params, metrics) of `count` runs, deterministic."""
    rng = random.Random(seed)
    for i in range(count):
        params = params_of(rng, i)
        metrics = {key: rng.random() for key in METRICS}
        yield f"run-{i:05d}", params, metrics


def history(seed: int = SEED) -> list[float]:
    """The curve of `HISTORY_KEY` (one value per step), read back by the history query."""
    rng = random.Random(seed + 1)
    return [rng.random() for _ in range(HISTORY_STEPS)]


def timed(fn: Callable[[], Any], reps: int) -> tuple[list[float], Any]:
    """Seconds of each of `reps` calls of `fn`, and the last call's result."""
    times = []
    result = None
    for _ in range(reps):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def summary(times: list[float]) -> dict[str, Any]:
    return {"times_s": times, "median_s": statistics.median(times), "best_s": min(times)}


class Side(Protocol):
    """What one tracking system does for the benchmark (pmle_side.py, mlflow_side.py)."""

    name: str

    def versions(self) -> dict[str, str]: ...
    def open(self, folder: Path) -> None:
        """Create the store under `folder` (untimed: MLflow creates and migrates its DB)."""

    def create_experiment(self, name: str) -> Any: ...
    def batch_run(self, experiment: Any, name: str, params: dict, metrics: dict) -> Any:
        """Create a run, log `params`, log `metrics` in one batch call (step 0), end it;
        returns the run's id."""

    def single_run(self, experiment: Any, name: str, params: dict, metrics: dict) -> float:
        """Create a run with `params`, log each metric with its own call (step 0), end it;
        returns the seconds spent in the metric calls alone."""

    def curve_run(self, experiment: Any, name: str, key: str, values: list[float]) -> Any: ...
    def search(
        self, experiment: Any, filter: str, order_by: str | None, limit: int | None
    ) -> Any: ...
    def search_frame(self, experiment: Any, filter: str) -> Any: ...
    def get_run(self, run_id: Any) -> Any: ...
    def history(self, run_id: Any, key: str) -> Any: ...
    def names(self, found: Any) -> list[str]:
        """Run names of what `search` returned, in order."""

    def run_shape(self, run: Any) -> tuple[int, int]:
        """(params, metrics) of what `get_run` returned."""

    def store_bytes(self) -> int: ...
    def close(self) -> None: ...


def drive(
    side: Side,
    runs_n: int,
    single_n: int,
    reps: int,
    after: Callable[[Side, Any], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole workload on `side`, in a fresh temporary folder; the results as a dict.
    `after(side, experiment)` runs last, on the full store (profiling); its dict is kept as
    `after` in the results."""
    out: dict[str, Any] = {"side": side.name, "versions": side.versions()}
    with tempfile.TemporaryDirectory(prefix=f"tracking-bench-{side.name}-") as tmp:
        started = time.perf_counter()
        side.open(Path(tmp))
        warm = side.create_experiment(WARMUP_EXPERIMENT)
        for name, params, metrics in runs(3, seed=SEED + 99):
            side.batch_run(warm, name, params, metrics)
            side.single_run(warm, name + "-single", params, metrics)
        side.search(warm, QUERIES[0][2], QUERIES[0][3], 10)
        side.search_frame(warm, QUERIES[1][2])
        out["open_s"] = time.perf_counter() - started
        log(side, f"store opened and warmed up in {out['open_s']:.2f} s")

        # 1. batch logging
        exp = side.create_experiment(EXPERIMENT)
        checkpoints = []
        started = time.perf_counter()
        for i, (name, params, metrics) in enumerate(runs(runs_n), start=1):
            run_id = side.batch_run(exp, name, params, metrics)
            if i == runs_n // 2 + 1:
                middle = run_id
            if i % 1000 == 0 or i == runs_n:
                checkpoints.append((i, time.perf_counter() - started))
                log(side, f"batch: {i} runs in {checkpoints[-1][1]:.1f} s")
        total = time.perf_counter() - started
        out["batch"] = {
            "runs": runs_n,
            "params_per_run": 5,
            "metrics_per_run": len(METRICS),
            "total_s": total,
            "runs_per_s": runs_n / total,
            "ms_per_run": total / runs_n * 1000,
            "checkpoints": checkpoints,
        }

        # 3. queries (over the batch-logged runs only)
        hist_exp = side.create_experiment(HISTORY_EXPERIMENT)
        hist_id = side.curve_run(hist_exp, "curve-run", HISTORY_KEY, history())
        queries: dict[str, Any] = {}
        for key, what, filter_text, order_by, limit in QUERIES:
            if key.endswith("_frame"):
                times, found = timed(lambda f=filter_text: side.search_frame(exp, f), reps)
                queries[key] = {"what": what, "count": len(found), **summary(times)}
            else:
                times, found = timed(
                    lambda f=filter_text, o=order_by, n=limit: side.search(exp, f, o, n), reps
                )
                names = side.names(found)
                queries[key] = {"what": what, "count": len(names), **summary(times)}
                if order_by is not None:
                    queries[key]["names"] = names
                else:
                    queries[key]["names_hash"] = hash_names(sorted(names))
            log(
                side,
                f"{key}: {queries[key]['count']} runs, {queries[key]['median_s'] * 1000:.1f} ms",
            )
        times, run = timed(lambda: side.get_run(middle), reps)
        shape = side.run_shape(run)
        queries["get_run"] = {
            "what": "one run by id (params, latest metrics, tags)",
            "count": 1,
            "params": shape[0],
            "metrics": shape[1],
            **summary(times),
        }
        times, points = timed(lambda: side.history(hist_id, HISTORY_KEY), reps)
        queries["history"] = {
            "what": f"one metric's full history ({HISTORY_STEPS} points)",
            "count": len(points),
            **summary(times),
        }
        for key in ("get_run", "history"):
            log(side, f"{key}: {queries[key]['count']}, {queries[key]['median_s'] * 1000:.2f} ms")
        out["queries"] = queries
        out["reps"] = reps

        # 2. one call per value
        single = side.create_experiment(SINGLE_EXPERIMENT)
        in_calls = 0.0
        started = time.perf_counter()
        for name, params, metrics in runs(single_n, seed=SEED + 1):
            in_calls += side.single_run(single, name, params, metrics)
        total = time.perf_counter() - started
        calls = single_n * len(METRICS)
        out["single"] = {
            "runs": single_n,
            "calls": calls,
            "total_s": total,
            "calls_s": in_calls,
            "ms_per_call": in_calls / calls * 1000,
        }
        log(side, f"single: {calls} calls, {out['single']['ms_per_call']:.2f} ms per call")
        out["store_mib"] = side.store_bytes() / 2**20
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if after is not None:
            out["after"] = after(side, exp)
        side.close()
    return out


def hash_names(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def log(side: Side, message: str) -> None:
    print(f"[{side.name}] {message}", file=sys.stderr, flush=True)


def main(
    side: Side,
    argv: list[str] | None = None,
    after: Callable[[Side, Any], dict[str, Any]] | None = None,
) -> int:
    """Command line of a side's driver: run the workload, print the results as JSON (the
    last line of stdout; progress goes to stderr)."""
    parser = argparse.ArgumentParser(description=f"the tracking benchmark's {side.name} side")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--single-runs", type=int, default=500)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args(argv)
    result = drive(side, args.runs, args.single_runs, args.reps, after)
    print(json.dumps(result))
    return 0
