"""The tracking benchmark's pmle side: the workload of workload.py through `ws.tracking`, in
pmle's venv. With --profile N, N more batch-logged runs and each query once more run under
cProfile afterwards (each query 5 times; not timed), and their top costs are kept.

    .venv/bin/python benchmarks/tracking/pmle_side.py [--runs N] [--single-runs N] [--reps N]
                                                      [--profile N]
"""

from __future__ import annotations

import cProfile
import os
import platform
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workload  # noqa: E402

#: calls of each query under the profiler
QUERY_CALLS = 5


class PmleSide:
    name = "pmle"

    def versions(self) -> dict[str, str]:
        import pandas
        import sqlalchemy

        import pmle

        return {
            "pmle": pmle.__version__,
            "python": platform.python_version(),
            "sqlalchemy": sqlalchemy.__version__,
            "sqlite": __import__("sqlite3").sqlite_version,
            "pandas": pandas.__version__,
        }

    def open(self, folder: Path) -> None:
        import pmle

        self.folder = folder
        self.ws = pmle.init(folder / "ws")
        self.tracking = self.ws.tracking

    def create_experiment(self, name: str) -> str:
        self.tracking.create_experiment(name)
        return name

    def batch_run(self, experiment: str, name: str, params: dict, metrics: dict) -> int:
        run = self.tracking.start_run(experiment, name, params=params)
        run.log_metrics(metrics, step=0)
        run.end()
        return run.id

    def single_run(self, experiment: str, name: str, params: dict, metrics: dict) -> float:
        run = self.tracking.start_run(experiment, name, params=params)
        started = time.perf_counter()
        for key, value in metrics.items():
            run.log_metric(key, value, step=0)
        spent = time.perf_counter() - started
        run.end()
        return spent

    def curve_run(self, experiment: str, name: str, key: str, values: list[float]) -> int:
        with self.tracking.start_run(experiment, name) as run:
            for step, value in enumerate(values):
                run.log_metric(key, value, step=step)
        return run.id

    def search(self, experiment: str, filter: str, order_by: str | None, limit: int | None) -> Any:
        return self.tracking.runs(experiment, filter=filter, order_by=order_by, max_results=limit)

    def search_frame(self, experiment: str, filter: str) -> Any:
        return self.tracking.runs_frame(experiment, filter=filter, max_results=None)

    def get_run(self, run_id: int) -> Any:
        return self.tracking.run(run_id)

    def history(self, run_id: int, key: str) -> Any:
        return self.tracking.metric_history(run_id, key)

    def names(self, found: Any) -> list[str]:
        return [r.name for r in found]

    def run_shape(self, run: Any) -> tuple[int, int]:
        return len(run.params), len(run.metrics)

    def store_bytes(self) -> int:
        return sum(p.stat().st_size for p in (self.folder / "ws").rglob("metadata.db*"))

    def close(self) -> None:
        self.ws.close()


def top_costs(prof: cProfile.Profile, count: int = 12) -> list[dict[str, Any]]:
    """The functions with the most own time (tottime), with their cumulative time."""
    stats = pstats.Stats(prof)
    rows = []
    for (path, line, func), (_cc, calls, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = path if path.startswith("<") else f"{_short(path)}:{line}"
        rows.append({"function": f"{where}({func})", "calls": calls, "own_s": tt, "cum_s": ct})
    rows.sort(key=lambda r: r["own_s"], reverse=True)
    return rows[:count]


def pmle_cumulative(prof: cProfile.Profile, count: int = 12) -> list[dict[str, Any]]:
    """pmle's own functions by cumulative time (where the time goes, top down)."""
    stats = pstats.Stats(prof)
    rows = []
    for (path, line, func), (_cc, calls, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if f"{os.sep}pmle{os.sep}" in path:
            rows.append({"function": f"{_short(path)}:{line}({func})", "calls": calls, "cum_s": ct})
    rows.sort(key=lambda r: r["cum_s"], reverse=True)
    return rows[:count]


def _short(path: str) -> str:
    for marker in (f"{os.sep}site-packages{os.sep}", f"{os.sep}src{os.sep}"):
        if marker in path:
            return path.split(marker, 1)[1]
    return Path(path).name


def profiler(count: int) -> Callable[[Any, str], dict[str, Any]]:
    def after(side: Any, experiment: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        prof = cProfile.Profile()
        exp = side.create_experiment("bench-profile")
        started = time.perf_counter()
        prof.enable()
        for name, params, metrics in workload.runs(count, seed=workload.SEED + 2):
            side.batch_run(exp, name, params, metrics)
        prof.disable()
        out["batch"] = {
            "runs": count,
            "total_s": time.perf_counter() - started,
            "own": top_costs(prof),
            "pmle": pmle_cumulative(prof),
        }
        some = side.search(experiment, None, None, 1)[0].id
        hist_id = side.search(workload.HISTORY_EXPERIMENT, None, None, 1)[0].id
        calls = {
            key: (
                (lambda f=filter_text: side.search_frame(experiment, f))
                if key.endswith("_frame")
                else (lambda f=filter_text, o=order_by, n=limit: side.search(experiment, f, o, n))
            )
            for key, _what, filter_text, order_by, limit in workload.QUERIES
        }
        calls["get_run"] = lambda: side.get_run(some)
        calls["history"] = lambda: side.history(hist_id, workload.HISTORY_KEY)
        for key, call in calls.items():
            prof = cProfile.Profile()
            started = time.perf_counter()
            prof.enable()
            for _ in range(QUERY_CALLS):
                call()
            prof.disable()
            out[key] = {
                "calls": QUERY_CALLS,
                "total_s": time.perf_counter() - started,
                "own": top_costs(prof),
                "pmle": pmle_cumulative(prof),
            }
        workload.log(
            side, "profiled: " + ", ".join(f"{k} {v['total_s']:.2f} s" for k, v in out.items())
        )
        return out

    return after


if __name__ == "__main__":
    argv = sys.argv[1:]
    after = None
    if "--profile" in argv:
        at = argv.index("--profile")
        after = profiler(int(argv[at + 1]))
        del argv[at : at + 2]
    raise SystemExit(workload.main(PmleSide(), argv, after))
