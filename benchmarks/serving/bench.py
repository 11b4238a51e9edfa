"""The serving benchmark harness: start each server, check its answers, load it with wrk, stop it.

    python benchmarks/serving/bench.py [--systems pmle,mlflow,mlserver,fastapi] [--duration 20]
        [--warmup 3] [--connections 64] [--payloads 1,100] [--no-pmle-batching-runs]
        [--pmle-batch-args="..."] [--pmle-nobatch-args="..."] [--check-only] [--resume]
        [--results DIR]

Runs, one after another, each in a fresh server process:

- every system × payload (1 row, 100 rows) with the system's default settings
  (pmle: `endpoints deploy` without batching flags);
- pmle only, single-row: adaptive batching off (`--pmle-nobatch-args`) and on
  (`--pmle-batch-args`) — the batching goal compares these two.

Each run: start the server pinned to CPU 0 (`taskset -c 0`, one worker, OMP_NUM_THREADS=1) in its
own process group → wait for its readiness route (--ready-timeout, else the run fails) → POST
the 1-row and 100-row bodies and compare P(churn) with the booster's (work/expected.json,
|diff| ≤ 1e-6, else the run fails without load) → wrk on CPU 1 (`taskset -c 1 wrk -t1
-c64 --latency --timeout 10s`): a warm-up of --warmup s (discarded), then --duration s →
stop the whole process group (SIGTERM, then SIGKILL after 10 s).
Raw JSON per run: results/raw/<system>-<rows>.json. The model and request bodies come from
make_model.py (benchmarks/serving/work/).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # benchmarks/mdsection.py
ROOT = HERE.parent.parent
VENVS = ROOT / "benchmarks" / ".venvs"
WORK = HERE / "work"
PMLE_BIN = Path(os.environ.get("PMLE_PYTHON", ROOT / ".venv" / "bin" / "python")).parent / "pmle"
SYSTEMS = ["pmle", "mlflow", "mlserver", "fastapi"]
TOLERANCE = 1e-6
ENDPOINT = "bench"

_live: list[subprocess.Popen] = []  # servers to stop if the harness dies


# ---------------------------------------------------------------------------------------------
# pmle: every pmle command the harness runs is here.
# Checked against the CLI of issue 4 (`pmle endpoints deploy --help`): batching is on by default
# (max batch 64, max wait 0 ms); `--no-batching` turns it off.
# ---------------------------------------------------------------------------------------------

PMLE_ARGS = "--compile"  # compiled trees: what a deployment chasing throughput uses
PMLE_BATCH_ARGS = "--compile"  # the main deployment: batching on (64 rows, 2 ms window)
PMLE_NOBATCH_ARGS = "--compile --no-batching"  # the same, batching off


def pmle_commands(model_ref: str, port: int, deploy_args: list[str]) -> dict[str, Any]:
    """The pmle commands for one run, run with PMLE_WORKSPACE=<a fresh copy of work/pmle>.

    `setup` run in order (each must exit 0), then `serve` is the server process; `ready` is the
    readiness route and `predict` the Vertex AI predict route.
    """
    pmle = str(PMLE_BIN)
    return {
        "setup": [
            [pmle, "endpoints", "create", ENDPOINT],
            [pmle, "endpoints", "deploy", ENDPOINT, "--model", model_ref, *deploy_args],
        ],
        "serve": [pmle, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        "ready": "/v2/health/ready",
        "predict": f"/v1/projects/local/locations/local/endpoints/{ENDPOINT}:predict",
    }


# ---------------------------------------------------------------------------------------------
# answers: P(churn) per row out of each system's response
# ---------------------------------------------------------------------------------------------


def _p1(item: Any) -> float:
    """P(class 1) from one prediction, whatever shape a server gives it."""
    if isinstance(item, bool):
        raise ValueError(f"a label, not a probability: {item!r}")
    if isinstance(item, int | float):
        return float(item)
    if isinstance(item, list | tuple):
        if len(item) == 1:
            return _p1(item[0])
        if len(item) == 2:
            return _p1(item[1])
    if isinstance(item, dict):
        if (
            "scores" in item
        ):  # Vertex AI tabular classification: {"classes": [...], "scores": [...]}
            classes = [str(c) for c in item.get("classes", [])]
            for pos in ("1", "Yes", "True", "true"):
                if pos in classes:
                    return float(item["scores"][classes.index(pos)])
            return float(item["scores"][-1])
        for key in ("probabilities", "probability", "proba", "predict_proba", "p", "score"):
            if key in item:
                return _p1(item[key])
        for key in ("1", "Yes", "True", "true"):
            if key in item:
                return _p1(item[key])
    raise ValueError(f"no probability in {str(item)[:200]}")


def answers_predictions(resp: dict) -> list[float]:
    return [_p1(x) for x in resp["predictions"]]


def answers_mlserver(resp: dict) -> list[float]:
    out = resp["outputs"][0]
    data = out["data"]
    shape = out.get("shape") or [len(data)]
    if len(shape) == 2 and shape[1] == 2:  # [n, 2]: both classes
        return [float(x) for x in data[1::2]]
    return [float(x) for x in data]


# ---------------------------------------------------------------------------------------------
# servers
# ---------------------------------------------------------------------------------------------


@dataclass
class Server:
    argv: list[str]
    ready: str  # path
    predict: str  # path
    answers: Callable[[dict], list[float]]
    payload: str  # prefix of its request bodies in work/payloads/
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    setup: list[list[str]] = field(default_factory=list)
    description: str = ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def venv_bin(peer: str, exe: str) -> Path:
    return VENVS / f"serving-{peer}" / "bin" / exe


def make_server(
    system: str, variant: str, port: int, args: argparse.Namespace, tmp: Path
) -> Server:
    build = json.loads((WORK / "build.json").read_text())
    if system == "pmle":
        deploy_args = {
            "default": shlex.split(args.pmle_args),
            "nobatch": shlex.split(args.pmle_nobatch_args),
            "batch": shlex.split(args.pmle_batch_args),
        }[variant]
        ws = tmp / "pmle-ws"
        shutil.copytree(WORK / "pmle", ws, symlinks=True)  # a fresh workspace per run
        cmds = pmle_commands(build["pmle_model"], port, deploy_args)
        return Server(
            argv=cmds["serve"],
            ready=cmds["ready"],
            predict=cmds["predict"],
            answers=answers_predictions,
            payload="pmle",
            env={"PMLE_WORKSPACE": str(ws)},
            cwd=ws,
            setup=cmds["setup"],
            description=f"pmle serve --workers 1; deploy {' '.join(deploy_args) or '(defaults)'}",
        )
    if system == "mlflow":
        return Server(
            argv=[
                str(venv_bin("mlflow", "mlflow")),
                "models",
                "serve",
                "-m",
                str(WORK / "mlflow" / "model"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                "1",
                "--env-manager",
                "local",
            ],
            ready="/ping",
            predict="/invocations",
            answers=answers_predictions,
            payload="mlflow",
            env={
                "MLFLOW_TRACKING_URI": f"file://{tmp / 'mlruns'}",
                "UVICORN_ACCESS_LOG": "false",  # access log off, as for every system here
            },
            cwd=tmp,
            description=(
                "mlflow models serve -w 1 --env-manager local (uvicorn, access log off), "
                "lightgbm flavor"
            ),
        )
    if system == "mlserver":
        name = build["mlserver_model"]
        return Server(
            argv=[str(venv_bin("mlserver", "mlserver")), "start", str(WORK / "mlserver")],
            ready=f"/v2/models/{name}/ready",
            predict=f"/v2/models/{name}/infer",
            answers=answers_mlserver,
            payload="mlserver",
            env={
                "MLSERVER_HOST": "127.0.0.1",
                "MLSERVER_HTTP_PORT": str(port),
                "MLSERVER_GRPC_PORT": str(free_port()),
                "MLSERVER_METRICS_PORT": str(free_port()),
                "MLSERVER_PARALLEL_WORKERS": str(args.mlserver_parallel_workers),
                "MLSERVER_DEBUG": "false",  # access log off, as for every system here
            },
            cwd=tmp,  # its .metrics / .envs folders go here
            description=(
                f"mlserver start (mlserver_lightgbm), parallel_workers="
                f"{args.mlserver_parallel_workers}, debug=false"
            ),
        )
    if system == "fastapi":
        return Server(
            argv=[
                str(venv_bin("fastapi", "uvicorn")),
                "app:app",
                "--app-dir",
                str(HERE / "fastapi_app"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--no-access-log",
            ],
            ready="/health",
            predict="/predict",
            answers=answers_predictions,
            payload="fastapi",
            env={"BENCH_MODEL": str(WORK / "fastapi" / "model.joblib")},
            cwd=tmp,
            description="uvicorn app:app --workers 1 --no-access-log; LGBMClassifier.predict_proba",
        )
    raise ValueError(system)


def http(
    method: str, url: str, body: bytes | None = None, timeout: float = 30
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def stop(proc: subprocess.Popen) -> None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:  # children that outlived the leader, or a leader that ignored SIGTERM
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    if proc in _live:
        _live.remove(proc)


def _stop_all(*_: Any) -> None:
    for p in list(_live):
        stop(p)


def _on_signal(signum: int, _frame: Any) -> None:
    _stop_all()
    sys.exit(128 + signum)


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) of every live process in the process group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:  # field 5: pgrp
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------------------------

LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("{body}", "rb"))
wrk.body = f:read("*a")
f:close()

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"lat_mean_us":%.1f,"lat_stdev_us":%.1f,"lat_min_us":%d,'
    .. '"lat_max_us":%d,"p50_us":%d,"p75_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency.mean, latency.stdev, latency.min, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, Any]:
    """wrk's text output (with --latency) plus the WRKJSON line our Lua `done` prints."""
    r: dict[str, Any] = {}
    m = re.search(r"^WRKJSON (\{.*\})$", out, re.M)
    if m:
        r["summary"] = json.loads(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read", out)
    if m:
        r["text_requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["text_req_per_s"] = float(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    r["non_2xx_3xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True))
        if m
        else {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    )
    dist = {}
    block = re.search(r"Latency Distribution\n((?:\s+\d+%\s+\S+\n)+)", out)
    if block:
        for pct, val in re.findall(r"(\d+)%\s+(\S+)", block.group(1)):
            dist[f"p{pct}_ms"] = _ms(val)
    r["text_latency"] = dist
    return r


def run_wrk(url: str, body: Path, seconds: float, args: argparse.Namespace, tmp: Path) -> dict:
    script = tmp / "post.lua"
    script.write_text(LUA.format(body=str(body)))
    cmd = [
        "taskset",
        "-c",
        args.client_cpu,
        "wrk",
        "-t",
        str(args.threads),
        "-c",
        str(args.connections),
        "-d",
        f"{seconds}s",
        "--latency",
        "--timeout",
        f"{args.wrk_timeout}s",
        "-s",
        str(script),
        url,
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    return {
        "cmd": cmd,
        "rc": p.returncode,
        "stdout": p.stdout,
        "stderr": p.stderr,
        **parse_wrk(p.stdout),
    }


def summarize(w: dict, rows: int) -> dict[str, Any]:
    """Throughput and latency from one wrk run; failures = non-2xx/3xx + socket errors."""
    s = w.get("summary")
    if s:
        requests = s["requests"]
        secs = s["duration_us"] / 1e6
        sock = {k: s[k] for k in ("connect", "read", "write", "timeout")}
        non2xx = max(s["status"], w.get("non_2xx_3xx", 0))
        lat = {
            "mean_ms": s["lat_mean_us"] / 1e3,
            "stdev_ms": s["lat_stdev_us"] / 1e3,
            "min_ms": s["lat_min_us"] / 1e3,
            "max_ms": s["lat_max_us"] / 1e3,
            "p50_ms": s["p50_us"] / 1e3,
            "p75_ms": s["p75_us"] / 1e3,
            "p90_ms": s["p90_us"] / 1e3,
            "p99_ms": s["p99_us"] / 1e3,
            "p999_ms": s["p999_us"] / 1e3,
        }
    else:  # text only (no Lua summary): wrk's rounded numbers
        requests = w.get("text_requests", 0)
        secs = requests / w["text_req_per_s"] if w.get("text_req_per_s") else 0.0
        sock = w["socket_errors"]
        non2xx = w.get("non_2xx_3xx", 0)
        lat = w.get("text_latency", {})
    failures = non2xx + sum(sock.values())
    ok = max(requests - non2xx, 0)
    rps = ok / secs if secs else 0.0
    return {
        "requests": requests,
        "ok_requests": ok,
        "seconds": secs,
        "req_per_s": rps,
        "rows_per_s": rps * rows,
        "latency": lat,
        "non_2xx": non2xx,
        "socket_errors": sock,
        "failures": failures,
    }


# ---------------------------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------------------------


def check_answers(base: str, server: Server, expected: list[float]) -> dict[str, Any]:
    """POST the 1-row and 100-row bodies; compare P(churn) with the booster's."""
    out: dict[str, Any] = {}
    worst = 0.0
    for n in (1, len(expected)):
        body = (WORK / "payloads" / f"{server.payload}-{n}.json").read_bytes()
        t0 = time.perf_counter()
        status, data = http("POST", base + server.predict, body)
        ms = (time.perf_counter() - t0) * 1e3
        if status != 200:
            raise RuntimeError(f"{n}-row request: HTTP {status}: {data[:500]!r}")
        got = server.answers(json.loads(data))
        if len(got) != n:
            raise RuntimeError(f"{n}-row request: {len(got)} predictions")
        diff = max(abs(a - b) for a, b in zip(got, expected[:n], strict=True))
        worst = max(worst, diff)
        out[f"rows_{n}"] = {"max_abs_diff": diff, "first_call_ms": round(ms, 2)}
        if not diff <= TOLERANCE:
            raise RuntimeError(f"{n}-row request: P(churn) differs from the booster by {diff:.3g}")
    out["max_abs_diff"] = worst
    return out


def run_one(
    system: str,
    variant: str,
    rows: int,
    args: argparse.Namespace,
    expected: list[float],
    versions: dict,
) -> dict[str, Any]:
    label = system if variant == "default" else f"{system}-{variant}"
    rec: dict[str, Any] = {
        "system": system,
        "variant": variant,
        "label": label,
        "payload_rows": rows,
        "connections": args.connections,
        "wrk_threads": args.threads,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "server_cpu": args.server_cpu,
        "client_cpu": args.client_cpu,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions.get(system, {}),
        "status": "failed",
    }
    logs = WORK / "logs"
    logs.mkdir(exist_ok=True)
    log = logs / f"{label}-{rows}.log"
    with tempfile.TemporaryDirectory(prefix=f"serving-{label}-") as tmpname:
        tmp = Path(tmpname)
        port = free_port()
        try:
            server = make_server(system, variant, port, args, tmp)
        except Exception as e:
            rec["error"] = f"could not prepare the server: {e}"
            return rec
        rec["server"] = server.description
        rec["server_cmd"] = server.argv
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **server.env}
        # as if the server's venv were activated (mlflow runs `uvicorn` from PATH)
        env["PATH"] = f"{Path(server.argv[0]).parent}{os.pathsep}{env.get('PATH', '')}"
        env.pop("PYTHONPATH", None)
        with log.open("w") as lf:
            for cmd in server.setup:
                lf.write(f"$ {shlex.join(cmd)}\n")
                lf.flush()
                p = subprocess.run(
                    cmd, env=env, cwd=server.cwd, stdout=lf, stderr=subprocess.STDOUT, timeout=300
                )
                if p.returncode != 0:
                    rec["error"] = f"setup command failed (rc {p.returncode}): {shlex.join(cmd)}"
                    rec["log_tail"] = tail(log)
                    return rec
            rec["setup_cmds"] = server.setup
            lf.write(f"$ taskset -c {args.server_cpu} {shlex.join(server.argv)}\n")
            lf.flush()
            t0 = time.monotonic()
            proc = subprocess.Popen(
                ["taskset", "-c", args.server_cpu, *server.argv],
                env=env,
                cwd=server.cwd,
                stdout=lf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            _live.append(proc)
            try:
                base = f"http://127.0.0.1:{port}"
                ready = False
                while time.monotonic() - t0 < args.ready_timeout:
                    if proc.poll() is not None:
                        break
                    try:
                        status, _ = http("GET", base + server.ready, timeout=2)
                        if status == 200:
                            ready = True
                            break
                    except (OSError, urllib.error.URLError):
                        pass
                    time.sleep(0.25)
                if not ready:
                    rec["status"] = "not_ready"
                    rec["error"] = (
                        f"server exited with rc {proc.returncode} before it was ready"
                        if proc.poll() is not None
                        else f"not ready after {args.ready_timeout} s (GET {server.ready})"
                    )
                    rec["log_tail"] = tail(log)
                    return rec
                rec["ready_s"] = round(time.monotonic() - t0, 2)
                try:
                    rec["check"] = check_answers(base, server, expected)
                except Exception as e:
                    rec["status"] = "wrong_answers"
                    rec["error"] = f"answer check failed: {e}"
                    rec["log_tail"] = tail(log)
                    return rec
                if args.check_only:
                    rec["status"] = "checked"
                    return rec
                body = WORK / "payloads" / f"{server.payload}-{rows}.json"
                url = base + server.predict
                if args.warmup > 0:
                    w = run_wrk(url, body, args.warmup, args, tmp)
                    rec["warmup"] = summarize(w, rows) if w["rc"] == 0 else {"rc": w["rc"]}
                cpu0 = group_cpu_seconds(proc.pid)
                w = run_wrk(url, body, args.duration, args, tmp)
                cpu1 = group_cpu_seconds(proc.pid)
                rec["wrk_cmd"] = w["cmd"]
                rec["wrk_output"] = w["stdout"] + (("\n" + w["stderr"]) if w["stderr"] else "")
                if w["rc"] != 0:
                    rec["error"] = f"wrk exited with rc {w['rc']}: {w['stderr'][-500:]}"
                    return rec
                rec.update(summarize(w, rows))
                rec["server_cpu_util"] = (
                    round((cpu1 - cpu0) / rec["seconds"], 3) if rec["seconds"] else None
                )
                if proc.poll() is not None:
                    rec["error"] = f"server died during the run (rc {proc.returncode})"
                    rec["log_tail"] = tail(log)
                    return rec
                rec["status"] = "ok"
                return rec
            finally:
                stop(proc)
                rec["log"] = str(log.relative_to(ROOT))


# ---------------------------------------------------------------------------------------------
# versions, machine
# ---------------------------------------------------------------------------------------------

KEY_PACKAGES = {
    "mlflow": ["mlflow", "lightgbm", "pandas", "numpy", "uvicorn", "fastapi"],
    "mlserver": ["mlserver", "mlserver-lightgbm", "lightgbm", "numpy", "uvicorn", "fastapi"],
    "fastapi": [
        "fastapi",
        "uvicorn",
        "uvloop",
        "httptools",
        "pydantic",
        "lightgbm",
        "scikit-learn",
        "pandas",
        "numpy",
    ],
}


def versions_of(system: str) -> dict[str, str]:
    if system == "pmle":
        py = PMLE_BIN.parent / "python"
        code = (
            "import json, importlib.metadata as m\n"
            "out = {}\n"
            "for p in ['pmle', 'lightgbm', 'numpy', 'pandas', 'uvicorn', 'fastapi', 'starlette',"
            " 'lleaves', 'llvmlite', 'onnxruntime', 'orjson']:\n"
            "    try: out[p] = m.version(p)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))"
        )
        p = subprocess.run([str(py), "-c", code], capture_output=True, text=True)
        return json.loads(p.stdout) if p.returncode == 0 else {}
    marker = VENVS / f"serving-{system}" / "bench-env.json"
    if not marker.exists():
        return {}
    pkgs = {}
    for line in json.loads(marker.read_text())["packages"]:
        if "==" in line:
            n, v = line.split("==", 1)
            pkgs[n.lower().replace("_", "-")] = v
    return {k: pkgs[k] for k in KEY_PACKAGES[system] if k in pkgs}


def wrk_version() -> str:
    p = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (p.stdout + p.stderr).splitlines()[0].strip() if (p.stdout + p.stderr) else "?"


def machine() -> dict[str, Any]:
    from mdsection import cpu_model

    cpu = cpu_model()
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "wrk": wrk_version(),
        "load_before": os.getloadavg()[0],
    }


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def plan(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    runs = []
    payloads = [int(x) for x in args.payloads.split(",") if x]
    if args.check_only:  # the check posts both payloads anyway: one start per server
        payloads = payloads[:1]
    for s in args.systems.split(","):
        for n in payloads:
            runs.append((s, "default", n))
        if s == "pmle" and args.pmle_batching_runs:
            runs.append(("pmle", "nobatch", 1))
            runs.append(("pmle", "batch", 1))
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--payloads", default="1,100", help="rows per request (1 and/or 100)")
    ap.add_argument("--duration", type=float, default=20, help="seconds of load per run")
    ap.add_argument("--warmup", type=float, default=3, help="seconds of load first, discarded")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (it has one core)")
    ap.add_argument(
        "--wrk-timeout",
        type=float,
        default=10,
        help="wrk's per-request timeout, s (a slower answer is a failure)",
    )
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--client-cpu", default="1")
    ap.add_argument("--ready-timeout", type=float, default=120)
    ap.add_argument(
        "--pmle-args",
        default=PMLE_ARGS,
        help=f"`pmle endpoints deploy` flags for pmle's main runs (default: {PMLE_ARGS!r})",
    )
    ap.add_argument(
        "--pmle-batch-args",
        default=PMLE_BATCH_ARGS,
        help=f"`pmle endpoints deploy` flags for batching on (default: {PMLE_BATCH_ARGS!r})",
    )
    ap.add_argument(
        "--pmle-nobatch-args",
        default=PMLE_NOBATCH_ARGS,
        help=f"`pmle endpoints deploy` flags for batching off (default: {PMLE_NOBATCH_ARGS!r})",
    )
    ap.add_argument(
        "--no-pmle-batching-runs",
        dest="pmle_batching_runs",
        action="store_false",
        help="skip pmle's single-row batching off/on runs",
    )
    ap.add_argument(
        "--mlserver-parallel-workers",
        type=int,
        default=0,
        help="MLServer's parallel_workers (0 = inference in the server process)",
    )
    ap.add_argument(
        "--check-only",
        action="store_true",
        help="start, check answers, stop: no load, nothing written to results",
    )
    ap.add_argument("--resume", action="store_true", help="keep runs whose raw JSON is ok")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args()

    unknown = [s for s in args.systems.split(",") if s not in SYSTEMS]
    if unknown:
        print(f"unknown system(s) {unknown}; known: {', '.join(SYSTEMS)}", file=sys.stderr)
        return 2
    if not (WORK / "build.json").exists():
        print(f"no model in {WORK}: run make_model.py first", file=sys.stderr)
        return 2
    if not args.check_only and shutil.which("wrk") is None:
        print("wrk is not installed (setup_envs.sh installs it)", file=sys.stderr)
        return 2

    atexit.register(_stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    expected = json.loads((WORK / "expected.json").read_text())["p_churn"]
    runs = plan(args)
    versions = {s: versions_of(s) for s in {r[0] for r in runs}}
    mach = machine()
    raw = args.results / "raw"
    if not args.check_only:
        raw.mkdir(parents=True, exist_ok=True)
    n_bad = 0
    for system, variant, rows in runs:
        label = system if variant == "default" else f"{system}-{variant}"
        out = raw / f"{label}-{rows}.json"
        if args.resume and not args.check_only and out.exists():
            try:
                if json.loads(out.read_text()).get("status") == "ok":
                    print(f"[bench] {label} {rows}-row: kept ({out.name})")
                    continue
            except json.JSONDecodeError:
                pass
        print(f"[bench] {label} {rows}-row: starting", flush=True)
        rec = run_one(system, variant, rows, args, expected, versions)
        rec["machine"] = mach
        rec["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        if rec["status"] == "ok":
            lat = rec["latency"]
            print(
                f"[bench] {label} {rows}-row: {rec['req_per_s']:.0f} req/s, "
                f"{rec['rows_per_s']:.0f} rows/s, p50 {lat['p50_ms']:.2f} ms, "
                f"p99 {lat['p99_ms']:.2f} ms, failures {rec['failures']}, "
                f"server CPU {rec['server_cpu_util']}",
                flush=True,
            )
        elif rec["status"] == "checked":
            print(
                f"[bench] {label}: ready in {rec['ready_s']} s, answers ok "
                f"(max |diff| {rec['check']['max_abs_diff']:.2g})",
                flush=True,
            )
        else:
            n_bad += 1
            print(
                f"[bench] {label} {rows}-row: {rec['status'].upper()}: {rec.get('error')}",
                flush=True,
            )
            if rec.get("log_tail"):
                print("    " + rec["log_tail"].replace("\n", "\n    "), flush=True)
        if not args.check_only:
            tmp = out.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(rec, indent=1))
            tmp.replace(out)
    return 1 if n_bad else 0


if __name__ == "__main__":
    sys.exit(main())
