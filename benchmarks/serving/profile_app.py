"""Where a request's time goes inside pmle's server, without HTTP: the ASGI app called in
process with the benchmark's request bodies (`make_model.py` must have run).

    .venv/bin/python benchmarks/serving/profile_app.py [--rows 1|100] [--concurrency 64]
        [--compile] [--no-batching] [--top 20]

Prints µs per request (HTTP excluded: uvicorn adds its own share on top) and the functions
that took the most time under cProfile. Pin it to one core (`taskset -c 0`) as the benchmark
pins the server.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1, choices=(1, 100))
    ap.add_argument("--concurrency", type=int, default=1, help="requests in flight at once")
    ap.add_argument("--compile", action="store_true", help="deploy with compiled trees")
    ap.add_argument("--no-batching", action="store_true")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()

    import pmle
    from pmle.server.app import PmleApp

    tmp = Path(tempfile.mkdtemp(prefix="pmle-profile-"))
    shutil.copytree(WORK / "pmle", tmp / "ws")
    ws = pmle.open_workspace(tmp / "ws")
    model = next(m.name for m in ws.models.list())
    ws.endpoints.create("bench")
    ws.endpoints.deploy(
        "bench",
        model,
        compile=args.compile,
        max_batch_size=1 if args.no_batching else 64,
    )
    body = (WORK / "payloads" / f"pmle-{args.rows}.json").read_bytes()
    app = PmleApp(ws, poll_s=3600)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/projects/local/locations/local/endpoints/bench:predict",
        "headers": [(b"content-length", str(len(body)).encode())],
        "query_string": b"",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"HTTP {message['status']}")

    async def round_() -> None:
        await asyncio.gather(*(app(scope, receive, send) for _ in range(args.concurrency)))

    async def run() -> None:
        await app._ensure_started()
        for _ in range(50):
            await round_()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            await round_()
            n += args.concurrency
        print(f"{(time.perf_counter() - t0) / n * 1e6:.1f} µs per request ({n} requests)")
        profiler = cProfile.Profile()
        profiler.enable()
        # about 2,000 single-row or 500 hundred-row requests (one round of 64 was too few to
        # tell a 100-row request's smaller costs apart)
        for _ in range(max(1, (2000 if args.rows == 1 else 500) // args.concurrency)):
            await round_()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
        await app.state.stop()

    try:
        asyncio.run(run())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
