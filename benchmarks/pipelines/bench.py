"""Pipelines benchmark (issue 6): run `pipelines.py`'s chain20 and fanout50 on pmle and on
kfp.local (SubprocessRunner, use_venv=False, in kfp's own venv), each measurement in a fresh
process: a first run, then a fully cached rerun against the same workspace / pipeline root.

    python benchmarks/pipelines/bench.py [--systems pmle,kfp] [--pipelines chain20,fanout50]
                                         [--results DIR]

Writes results/raw/<system>-<pipeline>.json. A worker (`--worker`) is one measurement: it
prints one JSON line with the wall time of the run call, the CPU time of the process and its
reaped children during the call (getrusage SELF + CHILDREN), and the pipeline's output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
KFP_VENV = ROOT / "benchmarks" / ".venvs" / "pipelines-kfp"
STEPS = {"chain20": 20, "fanout50": 51}  # tasks that run: 20 incs; 50 incs + the sum
EXPECTED = {"chain20": 20, "fanout50": sum(range(1, 51))}


def _cpu() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def worker(system: str, pipeline: str, phase: str, work: str) -> None:
    sys.path.insert(0, str(HERE))
    if system == "pmle":
        from pmle.workspace import init, open_workspace

        ws = init(work) if phase == "first" else open_workspace(work)
        # as kfp is imported before its timer: pmle's run machinery and the database engine
        import pmle.pipelines.cache
        import pmle.pipelines.lineage
        import pmle.pipelines.runs
        import pmle.pipelines.scheduler  # noqa: F401

        ws.engine.connect().close()
        cpu0, t0 = _cpu(), time.perf_counter()
        r = ws.pipelines.run(f"{HERE / 'pipelines.py'}:{pipeline}", {})
        wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
        out = (r.result.get("outputs") or {}).get("parameters", {}).get("Output")
        warm = None
        if phase == "cached":  # the same cached run again in this (now warm) process
            t1 = time.perf_counter()
            ws.pipelines.run(f"{HERE / 'pipelines.py'}:{pipeline}", {})
            warm = time.perf_counter() - t1
        extra = {
            "warm_wall_s": warm,
            "state": r.state,
            "error": r.error,
            "tasks": len([t for t in r.tasks if not t.get("isGroup")]),
            "cache_hits": sum(bool(t["cacheHit"]) for t in r.tasks if not t.get("isGroup")),
        }
    else:
        from kfp import local

        import pipelines as P

        local.init(
            runner=local.SubprocessRunner(use_venv=False),
            pipeline_root=str(Path(work) / "root"),
            enable_caching=True,
        )
        cpu0, t0 = _cpu(), time.perf_counter()
        r = getattr(P, pipeline)()
        wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
        out = r.output
        warm = None
        if phase == "cached":  # the same cached run again in this (now warm) process
            t1 = time.perf_counter()
            getattr(P, pipeline)()
            warm = time.perf_counter() - t1
        extra = {"warm_wall_s": warm, "state": "SUCCEEDED"}
    print(
        "BENCH "
        + json.dumps(
            {
                "wall_s": wall,
                "cpu_s": cpu,
                "output": out,
                **extra,
            }
        ),
        flush=True,
    )


def versions(py: str) -> dict:
    code = (
        "import json, sys, importlib.metadata as m\n"
        "v = {'python': sys.version.split()[0]}\n"
        "for p in ('pmle', 'kfp'):\n"
        "    try: v[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(v))"
    )
    return json.loads(subprocess.run([py, "-c", code], capture_output=True, text=True).stdout)


def machine() -> dict:
    sys.path.insert(0, str(HERE.parent))
    from mdsection import cpu_model

    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = int(line.split()[1]) / 1024 / 1024
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "ram_gib": round(mem, 1),
        "kernel": platform.release(),
    }


def measure(system: str, pipeline: str, phase: str, work: Path) -> dict:
    if system == "pmle":
        py, env = sys.executable, dict(os.environ)
    else:
        py = str(KFP_VENV / "bin" / "python")
        # kfp's environment: its venv first on PATH (the components' `python3` runs there)
        env = dict(
            os.environ,
            PATH=f"{KFP_VENV / 'bin'}:{os.environ.get('PATH', '')}",
            VIRTUAL_ENV=str(KFP_VENV),
        )
    cmd = [py, str(Path(__file__).resolve()), "--worker", system, pipeline, phase, str(work)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(work))
    proc_wall = time.perf_counter() - t0
    # kfp.local indents what the process prints after it ran (its log formatting): strip
    line = next(
        (ln.strip() for ln in p.stdout.splitlines() if ln.strip().startswith("BENCH ")), None
    )
    if p.returncode != 0 or line is None:
        return {
            "status": "failed",
            "returncode": p.returncode,
            "stderr_tail": (p.stderr or p.stdout)[-3000:],
            "process_wall_s": proc_wall,
        }
    rec = json.loads(line[6:])
    rec["process_wall_s"] = proc_wall
    rec["status"] = "ok" if rec["output"] == EXPECTED[pipeline] else "wrong-output"
    return rec


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=4, metavar=("SYSTEM", "PIPELINE", "PHASE", "DIR"))
    ap.add_argument("--systems", default="pmle,kfp")
    ap.add_argument("--pipelines", default="chain20,fanout50")
    ap.add_argument("--results", default=str(HERE / "results"))
    a = ap.parse_args()
    if a.worker:
        worker(*a.worker)
        return 0
    raw = Path(a.results) / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    mach = machine()
    rc = 0
    for system in a.systems.split(","):
        py = sys.executable if system == "pmle" else str(KFP_VENV / "bin" / "python")
        vers = versions(py)
        for pipeline in a.pipelines.split(","):
            work = Path(tempfile.mkdtemp(prefix=f"pmle-bench-{system}-{pipeline}-"))
            started = datetime.now(UTC).isoformat(timespec="seconds")
            try:
                first = measure(system, pipeline, "first", work)
                cached = measure(system, pipeline, "cached", work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            rec = {
                "system": system,
                "pipeline": pipeline,
                "steps": STEPS[pipeline],
                "first": first,
                "cached": cached,
                "machine": mach,
                "versions": vers,
                "started_at": started,
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            (raw / f"{system}-{pipeline}.json").write_text(json.dumps(rec, indent=1))
            f = first.get("wall_s")
            c = cached.get("wall_s")
            print(
                f"[bench] {system:5s} {pipeline:9s} first {first['status']} "
                f"{f if f is None else round(f, 3)} s, cached {cached['status']} "
                f"{c if c is None else round(c, 4)} s",
                flush=True,
            )
            if first["status"] != "ok" or cached["status"] != "ok":
                rc = 1
                print(first.get("stderr_tail", ""), cached.get("stderr_tail", ""), file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
