"""The monitoring benchmark harness: skew/drift of the same data by pmle and by Evidently.

    python benchmarks/monitoring/bench.py [--systems pmle,evidently] [--sizes 100k,1m,10m]
        [--repeats 3] [--evidently-repeats 1] [--evidently-max-size 1m] [--timeout 1800]
        [--results DIR] [--data DIR]

Every run is a fresh process of the system's own interpreter (pmle: the repo's .venv;
Evidently: benchmarks/.venvs/monitoring-evidently), started one after another, never two at
once. The parent measures the process's wall time (spawn → exit, interpreter start and imports
included) and its peak RSS (`os.wait4`'s `ru_maxrss`); the process reports the time of each
phase after its imports. A run past --timeout is killed and recorded as a failure.

- pmle: `duckdb.connect()` (defaults: all cores, DuckDB's memory limit) → `sql_histograms.fit`
  on `SELECT * FROM read_parquet('reference-<size>.parquet')` → `drift.detect` on the current
  file's `read_parquet`: JS divergence (numeric, 10 quantile buckets) and L-infinity
  (categorical), threshold 0.3.
- evidently: `pd.read_parquet` of both files → `Report([DataDriftPreset()]).run(current,
  reference)` with a `DataDefinition` giving the same numeric / categorical columns (Evidently
  then picks Wasserstein distance for numeric and Jensen–Shannon distance for categorical
  columns above 1,000 rows, threshold 0.1).

Both must flag exactly the two shifted features (features.py); the run records what each
flagged. Evidently is not run past --evidently-max-size (default 1m: at 1M rows it already takes
about 90 s and 2.2 GB; 10M would need about 15 minutes and some 20 GB, more than this machine
can spare). Raw JSON per system and size: results/raw/<system>-<size>.json.

    python benchmarks/monitoring/bench.py --worker pmle --size 1m --data DIR --out FILE

is one run (what the harness starts).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_T0 = time.perf_counter()

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from features import CATEGORICAL, KINDS, NUMERIC, SHIFTED, SIZES  # noqa: E402

SYSTEMS = ["pmle", "evidently"]
PYTHONS = {
    "pmle": Path(os.environ.get("PMLE_PYTHON", ROOT / ".venv" / "bin" / "python")),
    "evidently": ROOT / "benchmarks" / ".venvs" / "monitoring-evidently" / "bin" / "python",
}


# --- one run (inside the system's interpreter) -----------------------------------------------


def _versions(*names: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "?"
    return out


def run_pmle(reference: Path, current: Path) -> dict[str, Any]:
    """Fit the baseline on the reference file, then skew/drift of the current file."""
    import duckdb

    from pmle.monitoring import sql_histograms
    from pmle.monitoring.drift import detect

    t_import = time.perf_counter()
    con = duckdb.connect()
    ref = f"SELECT * FROM read_parquet('{reference}')"
    cur = f"SELECT * FROM read_parquet('{current}')"
    t0 = time.perf_counter()
    baseline = sql_histograms.fit(con, ref, KINDS)
    t1 = time.perf_counter()
    drifts = detect(con, baseline, cur)
    t2 = time.perf_counter()
    return {
        "import_s": t_import - _T0,
        "phases": {"fit": t1 - t0, "detect": t2 - t1},
        "work_s": t2 - t0,
        "rows": drifts[0].rows,
        "flagged": sorted(d.feature for d in drifts if d.anomalous),
        "features": {d.feature: {"method": d.metric, "value": d.value} for d in drifts},
        "versions": {**_versions("pmle", "duckdb", "numpy"), "python": platform.python_version()},
        "settings": {
            k: v
            for k, v in con.execute(
                "SELECT name, value FROM duckdb_settings() "
                "WHERE name IN ('threads', 'memory_limit')"
            ).fetchall()
        },
    }


def run_evidently(reference: Path, current: Path) -> dict[str, Any]:
    """Load both files with pandas, then Evidently's data drift preset."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    t_import = time.perf_counter()
    t0 = time.perf_counter()
    ref = pd.read_parquet(reference)
    cur = pd.read_parquet(current)
    t1 = time.perf_counter()
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    t2 = time.perf_counter()
    features: dict[str, Any] = {}
    flagged = []
    share = None
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            method, threshold, value = config["method"], config["threshold"], metric["value"]
            # distances drift at ≥ threshold; p-values (small samples only) below it
            drifted = value < threshold if "p_value" in method else value >= threshold
            features[config["column"]] = {"method": method, "value": value}
            if drifted:
                flagged.append(config["column"])
        elif config.get("type", "").endswith("DriftedColumnsCount"):
            share = metric["value"]
    return {
        "import_s": t_import - _T0,
        "phases": {"load": t1 - t0, "report": t2 - t1},
        "work_s": t2 - t0,
        "rows": len(cur),
        "flagged": sorted(flagged),
        "drifted_columns": share,
        "features": features,
        "versions": {
            **_versions("evidently", "pandas", "numpy", "pyarrow", "scipy"),
            "python": platform.python_version(),
        },
    }


def worker(system: str, size: str, data: Path, out: Path) -> None:
    ref, cur = data / f"reference-{size}.parquet", data / f"current-{size}.parquet"
    result = (run_pmle if system == "pmle" else run_evidently)(ref, cur)
    out.write_text(json.dumps(result, indent=1, default=str))


# --- the harness -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    sys.path.insert(0, str(HERE.parent))
    from mdsection import cpu_model

    mem = 0.0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) / 2**20
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "mem_gib": round(mem, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def one_run(system: str, size: str, data: Path, timeout: float) -> dict[str, Any]:
    """One fresh process: wall time, peak RSS and what it reported."""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"pmle-monitoring-{system}-{size}-{os.getpid()}"
    out.unlink(missing_ok=True)
    cmd = [
        str(PYTHONS[system]),
        str(Path(__file__).resolve()),
        "--worker",
        system,
        "--size",
        size,
        "--data",
        str(data),
        "--out",
        str(out),
    ]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    load = load_average()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    output = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    run: dict[str, Any] = {
        "started": started,
        "load_average": load,
        "wall_s": wall,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "returncode": proc.returncode,
    }
    if proc.returncode == 0 and out.exists():
        run.update(json.loads(out.read_text()))
        run["status"] = "ok"
        run["flags_ok"] = run["flagged"] == sorted(SHIFTED)
    else:
        run["status"] = "timeout" if wall >= timeout else "failed"
        run["output_tail"] = output.decode(errors="replace")[-3000:]
    out.unlink(missing_ok=True)
    return run


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if r["status"] == "ok"]
    if not ok:
        return {"status": runs[-1]["status"] if runs else "not run"}

    def med(key: str) -> float:
        return statistics.median(r[key] for r in ok)

    phases = {k: statistics.median(r["phases"][k] for r in ok) for k in ok[0]["phases"]}
    return {
        "status": "ok",
        "runs": len(ok),
        "wall_s": med("wall_s"),
        "wall_s_min": min(r["wall_s"] for r in ok),
        "work_s": med("work_s"),
        "import_s": med("import_s"),
        "phases": phases,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in ok),
        "flags_ok": all(r["flags_ok"] for r in ok),
        "flagged": ok[-1]["flagged"],
        "features": ok[-1]["features"],
        "versions": ok[-1]["versions"],
        "rows": ok[-1]["rows"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--size", help=argparse.SUPPRESS)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--repeats", type=int, default=3, help="runs per size for pmle")
    ap.add_argument("--evidently-repeats", type=int, default=1)
    ap.add_argument("--evidently-max-size", default="1m", choices=list(SIZES))
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    ap.add_argument("--data", default=str(HERE / "work" / "data"))
    ap.add_argument("--results", default=str(HERE / "results"))
    args = ap.parse_args()
    data = Path(args.data).resolve()
    if args.worker:
        worker(args.worker, args.size, data, Path(args.out))
        return 0

    systems = [s for s in args.systems.split(",") if s]
    sizes = [s for s in args.sizes.split(",") if s]
    unknown = [s for s in systems if s not in SYSTEMS] + [s for s in sizes if s not in SIZES]
    if unknown:
        ap.error(f"unknown system(s) / size(s): {unknown}")
    for s in systems:
        if not PYTHONS[s].exists():
            ap.error(f"no interpreter for {s} at {PYTHONS[s]} (run setup_envs.sh)")
    raw = Path(args.results) / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rc = 0
    for size in sizes:
        for system in systems:
            if not (data / f"reference-{size}.parquet").exists():
                ap.error(f"no data for {size} in {data} (run make_data.py)")
            record: dict[str, Any] = {
                "system": system,
                "size": size,
                "rows": SIZES[size],
                "machine": machine(),
            }
            if system == "evidently" and SIZES[size] > SIZES[args.evidently_max_size]:
                record.update(
                    status="skipped",
                    reason=f"above --evidently-max-size {args.evidently_max_size}",
                )
                print(f"[bench] {system} {size}: skipped (above {args.evidently_max_size})")
            else:
                repeats = args.evidently_repeats if system == "evidently" else args.repeats
                runs = []
                for i in range(repeats):
                    run = one_run(system, size, data, args.timeout)
                    runs.append(run)
                    what = (
                        f"wall {run['wall_s']:.2f} s, work {run['work_s']:.2f} s, "
                        f"peak RSS {run['peak_rss_mb']:.0f} MB, flagged {run['flagged']}"
                        if run["status"] == "ok"
                        else run["status"]
                    )
                    print(f"[bench] {system} {size} run {i + 1}/{repeats}: {what}", flush=True)
                    if run["status"] != "ok":
                        print(run.get("output_tail", ""), file=sys.stderr)
                        rc = 1
                        break
                record["runs"] = runs
                record["summary"] = summarize(runs)
                record["status"] = record["summary"]["status"]
            (raw / f"{system}-{size}.json").write_text(json.dumps(record, indent=1, default=str))
    return rc


if __name__ == "__main__":
    sys.exit(main())
