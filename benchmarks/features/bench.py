"""Feature store benchmark (issue 10): point-in-time retrieval with pmle against a raw DuckDB
ASOF JOIN and Feast's local file offline store, over the same Parquet files; then online reads
and materialization with pmle's SQLite and Redis online stores.

Every measured run is its own process, one after the other (never two at once), so each has
its own peak RSS (``os.wait4``'s ``ru_maxrss``):

- ``pmle_side.py prepare`` per feature table (the dataset import and the apply, timed apart);
- per case (feature set × entity rows; a feature set is one view, ``10m``, or K views holding
  the rows together, ``10m/10v``) and side: ``pmle_side.py offline``,
  ``duckdb_side.py --query asof`` (the baseline), ``duckdb_side.py --query asof_ordered``,
  and ``feast_side.py`` in Feast's venv (benchmarks/.venvs/feast, or --feast-python);
- ``pmle_side.py online`` per online store (Redis: a private ``redis-server`` on a free
  loopback port, no persistence, stopped afterwards);
- ``pmle_profile.py``: where pmle's time goes in the largest one-view case.

A run past --timeout (Feast: --feast-timeout) or over --mem-limit-gib of resident memory is
killed and recorded as such. Each side writes its answer (row_id + every feature, sorted by
row_id); this script checks pmle's equals the raw ASOF JOIN's exactly, and Feast's on the rows
Feast returned (and counts them). Raw JSON goes to results/raw/ for report.py.

    python benchmarks/features/bench.py
        [--cases 1m:10k,1m:100k,10m:100k,10m:1m,10m/10v:100k,10m/10v:1m]
        [--sides pmle,duckdb,duckdb_ordered,feast] [--reps 5] [--feast-reps 1]
        [--timeout 900] [--feast-timeout 600] [--mem-limit-gib 16] [--online sqlite,redis]
        [--online-features 10m] [--calls 2000] [--no-profile | --profile-only] [--threads N]
        [--work DIR] [--results DIR] [--feast-python PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import workload as w  # noqa: E402
from mdsection import cpu_model  # noqa: E402

FEAST_PYTHON = ROOT / "benchmarks" / ".venvs" / "feast" / "bin" / "python"
SIDES = ["pmle", "duckdb", "duckdb_ordered", "feast"]


def tree_rss_mib(pid: int) -> float:
    """Resident memory of `pid` and its descendants."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total / 1024


def run(
    command: list[str], timeout: float, mem_limit_mib: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run one measured process: its JSON result (the last JSON line of stdout), wall time,
    peak RSS, and status (ok / timeout / memory / killed / failed)."""
    print(f"[bench] {' '.join(command)}", flush=True)
    with tempfile.TemporaryFile("w+") as stdout:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=stdout, env=env, start_new_session=True)
        verdict: dict[str, Any] = {"seen_peak_mib": 0.0}
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.25):
                rss = tree_rss_mib(proc.pid)
                verdict["seen_peak_mib"] = max(verdict["seen_peak_mib"], rss)
                over = rss > mem_limit_mib
                late = time.perf_counter() - started > timeout
                if over or late:
                    verdict["killed"] = "memory" if over else "timeout"
                    with contextlib.suppress(OSError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        with contextlib.suppress(OSError):  # helpers it left behind (none expected)
            os.killpg(proc.pid, signal.SIGKILL)
        stdout.seek(0)
        lines = [ln for ln in stdout.read().splitlines() if ln.startswith("{")]
    out: dict[str, Any] = json.loads(lines[-1]) if lines and proc.returncode == 0 else {}
    out.update(
        wall_s=wall,
        exit_code=proc.returncode,
        peak_rss_mib=usage.ru_maxrss / 1024,
        seen_peak_mib=verdict["seen_peak_mib"],
    )
    if "killed" in verdict:
        out["status"] = verdict["killed"]
    elif proc.returncode == -signal.SIGKILL:
        out["status"] = "killed"  # by someone else: the kernel's OOM killer, most likely
    elif proc.returncode != 0 or not lines:
        out["status"] = "failed"
    else:
        out["status"] = "ok"
    if out["status"] != "ok":
        print(f"[bench] {out['status']} after {wall:.0f} s (exit {proc.returncode})", flush=True)
    return out


# -- correctness --------------------------------------------------------------------------------


def compare(answers: Path, fsize: str, esize: str) -> dict[str, Any]:
    """pmle's answer against the raw ASOF JOIN's (exactly) and Feast's (on its rows)."""
    import numpy as np
    import pyarrow.parquet as pq

    fset = w.feature_set(fsize)

    def load(side: str) -> Any:
        path = answers / f"{side}-{fset.tag}-{esize}.parquet"
        return pq.read_table(path) if path.exists() else None

    pmle, duck, ordered, feast = (load(s) for s in SIDES)
    out: dict[str, Any] = {}
    if pmle is None:
        return out
    # per view, whether pmle has its values (a view's features are all there or all null)
    has = np.stack(
        [pmle.column(v.features[0]).is_valid().to_numpy(zero_copy_only=False) for v in fset.views]
    )
    lacking = np.asarray(~has.all(axis=0))  # rows without the values of at least one view
    empty = np.asarray(~has.any(axis=0))  # rows without any feature
    out["rows"] = pmle.num_rows
    out["null_rows"] = int(empty.sum())
    if fset.multi:
        out["views"] = len(fset.views)
        out["rows_lacking_a_view"] = int(lacking.sum())
    for name, other in (("duckdb", duck), ("duckdb_ordered", ordered)):
        if other is not None:
            out[f"pmle_equals_{name}"] = bool(pmle.equals(other))
    if feast is not None:
        ids = pmle.column("row_id").to_numpy()
        fids = feast.column("row_id").to_numpy()
        at = np.searchsorted(ids, fids)
        valid = (at < len(ids)) & (ids[np.minimum(at, len(ids) - 1)] == fids)
        same = bool(valid.all()) and len(np.unique(fids)) == len(fids)
        for f in fset.features:
            mine = pmle.column(f).to_numpy(zero_copy_only=False).astype("float64")[at[valid]]
            theirs = feast.column(f).to_numpy(zero_copy_only=False).astype("float64")[valid]
            same = same and bool(np.array_equal(mine, theirs, equal_nan=True))
        dropped = np.setdiff1d(ids, fids)
        at_dropped = np.searchsorted(ids, dropped)
        out["feast"] = {
            "rows": feast.num_rows,
            "equal_on_its_rows": same,
            "dropped_rows": len(dropped),
            # every row it left out has no feature at all in pmle's answer
            "dropped_all_null_in_pmle": bool(empty[at_dropped].all()),
            # … or lacks the values of at least one view (the same thing with one view)
            "dropped_lacking_a_view_in_pmle": bool(lacking[at_dropped].all()),
            "null_rows_kept": int(feast.column(fset.features[0]).null_count),
        }
    return out


# -- Redis ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """A private redis-server on a free loopback port, no persistence: (process, URL, version)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("[bench] no redis-server on PATH (apt-get install redis-server)")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    for _ in range(5):
        port = _free_port()
        # fmt: off
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(folder), "--logfile", str(folder / "redis.log")]
        # fmt: on
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            if _ping(port):
                return proc, f"redis://127.0.0.1:{port}/0", version.split()[2].removeprefix("v=")
            time.sleep(0.02)
        stop(proc)
    raise SystemExit("[bench] redis-server did not answer PING")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- main -------------------------------------------------------------------------------------


def source_fingerprint() -> str:
    """A hash of pmle's feature store and warehouse sources (they may change between runs,
    or during one: the report says so)."""
    import hashlib

    digest = hashlib.sha256()
    src = ROOT / "src" / "pmle"
    for path in sorted([*(src / "features").glob("*.py"), src / "storage" / "warehouse.py"]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _size(case: tuple[str, str]) -> tuple[int, int]:
    return w.FEATURE_SIZES[case[0]], w.ENTITY_SIZES[case[1]]


def _set_order(fsize: str) -> tuple[bool, int, int]:
    fset = w.feature_set(fsize)
    return fset.multi, fset.rows, len(fset.views)


def parse_cases(text: str) -> list[tuple[str, str]]:
    """FEATURES:ENTITIES,… with FEATURES a one-view table (1m, 10m) or TOTAL/Kv (K views
    holding TOTAL rows together: 10m/10v), ENTITIES one of ENTITY_SIZES."""
    cases = []
    for part in text.split(","):
        fsize, _, esize = part.strip().partition(":")
        try:
            w.feature_set(fsize)
        except ValueError as e:
            raise SystemExit(f"[bench] bad case {part!r}: {e}") from None
        if esize not in w.ENTITY_SIZES:
            raise SystemExit(
                f"[bench] bad case {part!r}: FEATURES:ENTITIES with FEATURES in "
                f"{list(w.FEATURE_SIZES)} or TOTAL/Kv (e.g. 10m/10v), ENTITIES in "
                f"{list(w.ENTITY_SIZES)}"
            )
        cases.append((fsize, esize))
    return cases


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_cases = ",".join(f"{f}:{e}" for f, e, _ in w.CASES)
    ap.add_argument(
        "--cases",
        default=default_cases,
        help="FEATURES:ENTITIES,… (FEATURES: 1m, 10m, or TOTAL/Kv such as 10m/10v)",
    )
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--reps", type=int, default=5, help="calls per pmle / DuckDB process")
    ap.add_argument("--feast-reps", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per pmle/DuckDB run")
    ap.add_argument("--feast-timeout", type=float, default=600.0, help="seconds per Feast run")
    ap.add_argument("--mem-limit-gib", type=float, default=16.0, help="kill a run above this RSS")
    ap.add_argument("--online", default="sqlite,redis", help="online stores; 'none' for none")
    ap.add_argument("--online-features", default="10m", choices=list(w.FEATURE_SIZES))
    ap.add_argument("--calls", type=int, default=2000, help="online reads per key count")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument(
        "--profile-only",
        action="store_true",
        help="only pmle_profile.py (the data and pmle's "
        "workspace for the largest case must exist), keeping the other raw results",
    )
    ap.add_argument("--threads", type=int, default=0, help="DuckDB threads (0: its default)")
    ap.add_argument("--work", type=Path, default=HERE / "work", help="data, workspaces, answers")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--feast-python", default=str(FEAST_PYTHON))
    a = ap.parse_args()
    cases = parse_cases(a.cases)
    sides = [s.strip() for s in a.sides.split(",") if s.strip()]
    if not set(sides) <= set(SIDES):
        ap.error(f"--sides takes some of {', '.join(SIDES)}")
    stores = [] if a.online == "none" else [s.strip() for s in a.online.split(",") if s.strip()]
    if not set(stores) <= {"sqlite", "redis"}:
        ap.error("--online takes sqlite, redis, both, or none")
    if "feast" in sides and not os.access(a.feast_python, os.X_OK):
        raise SystemExit(f"[bench] no Feast venv at {a.feast_python} (or pass --feast-python)")

    env = dict(os.environ, BENCH_THREADS=str(a.threads), PYTHONUNBUFFERED="1")
    env.pop("PMLE_ONLINE_STORE_URL", None)
    env["FEAST_USAGE"] = "False"
    load = os.getloadavg()
    source_at_start = source_fingerprint()
    mem = a.mem_limit_gib * 1024
    data, answers = a.work / "data", a.work / "answers"
    answers.mkdir(parents=True, exist_ok=True)
    raw = a.results / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    started_all = time.perf_counter()

    one_view = [c for c in cases if not w.feature_set(c[0]).multi]
    if a.profile_only:
        if not one_view:
            raise SystemExit("[bench] --profile-only wants a one-view case (10m:1m, …)")
        sides, cases, stores = ["pmle"], [max(one_view, key=_size)], []

    fsizes = sorted(
        {f for f, _ in cases} | ({a.online_features} if stores else set()), key=_set_order
    )
    files = w.ensure_data(data, fsizes, cases)

    def ws_of(fsize: str) -> Path:
        return a.work / f"ws-{w.feature_set(fsize).tag}"

    py = sys.executable
    here = str(HERE)
    need_ws = sorted(
        {f for f, _ in cases if "pmle" in sides} | ({a.online_features} if stores else set()),
        key=_set_order,
    )
    for fsize in [] if a.profile_only else need_ws:
        result = run(
            [py, f"{here}/pmle_side.py", "prepare", "--data", str(data), "--features", fsize,
             "--ws", str(ws_of(fsize))],
            a.timeout, mem, env,
        )  # fmt: skip
        if result["status"] != "ok":
            raise SystemExit(f"[bench] preparing pmle's workspace for {fsize} failed")
        (raw / f"prepare-{w.feature_set(fsize).tag}.json").write_text(json.dumps(result, indent=1))

    checks_path = raw / "checks.json"
    checks = json.loads(checks_path.read_text()) if checks_path.exists() else {}
    for fsize, esize in [] if a.profile_only else cases:
        tag = f"{w.feature_set(fsize).tag}-{esize}"  # in file names: 10m-1m, 10m_10v-1m
        common = ["--data", str(data), "--features", fsize, "--entities", esize]
        for side in sides:
            out = str(answers / f"{side}-{tag}.parquet")
            Path(out).unlink(missing_ok=True)
            reps = ["--reps", str(a.reps)]
            if side == "pmle":
                command = [py, f"{here}/pmle_side.py", "offline", *common, "--ws",
                           str(ws_of(fsize)), *reps, "--out", out]  # fmt: skip
            elif side in ("duckdb", "duckdb_ordered"):
                query = "asof" if side == "duckdb" else "asof_ordered"
                command = [py, f"{here}/duckdb_side.py", *common, "--query", query, *reps,
                           "--out", out]  # fmt: skip
            else:
                command = [a.feast_python, f"{here}/feast_side.py", *common, "--reps",
                           str(a.feast_reps), "--out", out]  # fmt: skip
            timeout = a.feast_timeout if side == "feast" else a.timeout
            result = run(command, timeout, mem, env)
            result.update(side=side, features=fsize, entities=esize, timeout_s=timeout)
            result["mem_limit_mib"] = mem
            (raw / f"{side}-{tag}.json").write_text(json.dumps(result, indent=1))
            if result["status"] == "ok":
                print(
                    f"[bench] {side} {fsize}×{esize}: median {result['median_s']:.3f} s, "
                    f"peak RSS {result['peak_rss_mib']:.0f} MiB",
                    flush=True,
                )
        checks[f"{fsize}:{esize}"] = found = compare(answers, fsize, esize)
        print(f"[bench] check {fsize}×{esize}: {json.dumps(found)}", flush=True)
        if found.get("pmle_equals_duckdb") is False:
            print("[bench] pmle's answer differs from the raw ASOF JOIN's!", flush=True)
        checks_path.write_text(json.dumps(checks, indent=1))

    redis_version = None
    for store in stores:
        extra: list[str] = []
        server = None
        folder = None
        if store == "redis":
            folder = Path(tempfile.mkdtemp(prefix="features-bench-redis-"))
            server, url, redis_version = start_redis(folder)
            extra = ["--redis-url", url]
        try:
            result = run(
                [py, f"{here}/pmle_side.py", "online", "--ws", str(ws_of(a.online_features)),
                 "--features", a.online_features, "--store", store, "--calls", str(a.calls),
                 *extra],
                a.timeout, mem, env,
            )  # fmt: skip
        finally:
            if server is not None:
                stop(server)
                shutil.rmtree(folder, ignore_errors=True)  # type: ignore[arg-type]
        if redis_version:
            result["redis_server"] = redis_version
        (raw / f"online-{store}.json").write_text(json.dumps(result, indent=1))

    if not a.no_profile and "pmle" in sides and one_view:
        fsize, esize = max(one_view, key=_size)
        result = run(
            [py, f"{here}/pmle_profile.py", "--data", str(data), "--features", fsize,
             "--entities", esize, "--ws", str(ws_of(fsize))],
            a.timeout, mem, env,
        )  # fmt: skip
        (raw / "profile.json").write_text(json.dumps(result, indent=1))

    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    meta_path = raw / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if a.profile_only:  # the rest of the results, and what meta.json says of them, stay
        meta["profile_run"] = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_at_start": [round(v, 2) for v in load],
            "pmle_source": source_fingerprint(),
        }
        meta_path.write_text(json.dumps(meta, indent=1))
        print(f"[bench] profile done; raw results in {raw}", flush=True)
        return 0
    meta.update(
        {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "ram_gib": round(ram, 1),
            "kernel": platform.release(),
            "load_at_start": [round(v, 2) for v in load],
            "load_at_end": [round(v, 2) for v in os.getloadavg()],
            "files": files,
            "cases": [f"{f}:{e}" for f, e in cases],
            "sides": sides,
            "reps": a.reps,
            "feast_reps": a.feast_reps,
            "threads": a.threads,
            "mem_limit_gib": a.mem_limit_gib,
            "ttl_s": w.TTL_S,
            "dense_ttl_s": w.DENSE_TTL_S,
            "total_s": time.perf_counter() - started_all,
            "pmle_source": {"start": source_at_start, "end": source_fingerprint()},
        }
    )
    if redis_version:
        meta["redis_server"] = redis_version
    meta_path.write_text(json.dumps(meta, indent=1))
    print(f"[bench] done in {meta['total_s']:.0f} s; raw results in {raw}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
