"""Serving on Ray Serve: the same `PmleApp`, as N replicas behind Ray's HTTP proxy.

`pmle serve --runner ray --replicas N` (or `serve(..., runner="ray")`) starts a local Ray, or
joins a cluster with `--ray-address`, deploys one Serve application at route prefix `/` whose
replicas each run a `PmleApp` over the workspace, and blocks until interrupted. Routes, errors
and headers are those of the local server, plus `x-pmle-replica` naming the replica that
answered. Each replica loads the deployed models and follows deployment changes on its own, as
uvicorn's worker processes do; on a cluster, every node must reach the workspace (same path, or
a shared metadata URL and artifact folder).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pmle.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from pmle.server.app import PmleApp, Receive, Scope, Send

#: The Serve application's name: one pmle app per Ray cluster.
APP_NAME = "pmle"
#: Header naming the replica that answered.
REPLICA_HEADER = b"x-pmle-replica"
#: Requests a replica accepts at once. Ray's default (5) would cap adaptive batching, which
#: coalesces concurrent requests inside a replica.
MAX_ONGOING_REQUESTS = 256
#: A local Ray for serving moves only request bodies through its object store.
SERVE_OBJECT_STORE_BYTES = 128 * 1024**2


class ReplicaApp:
    """The ASGI app a replica runs: a `PmleApp` built inside the replica, tagging responses.

    Ray Serve pickles the ingress app to ship it to the replicas; a `PmleApp` holds database
    connections and threads, so only its settings travel and it is built on the first ASGI
    call there (the lifespan startup)."""

    def __init__(
        self, workspace: str, *, require_token: bool, max_body_bytes: int, poll_s: float
    ) -> None:
        self.workspace = workspace
        self.require_token = require_token
        self.max_body_bytes = max_body_bytes
        self.poll_s = poll_s
        self._app: PmleApp | None = None
        self._tag = b""

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_app": None, "_tag": b""}

    def _build(self) -> PmleApp:
        from pmle.server.app import create_app

        self._tag = uuid.uuid4().hex[:12].encode()  # per replica: drawn after unpickling
        self._app = create_app(
            self.workspace,
            require_token=self.require_token,
            max_body_bytes=self.max_body_bytes,
            poll_s=self.poll_s,
        )
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app if self._app is not None else self._build()
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        tag = self._tag

        async def send_tagged(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (REPLICA_HEADER, tag)]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_tagged)


class PmleServer:
    """The Serve deployment class; `serve.ingress` makes it forward HTTP to a `ReplicaApp`."""


def application(
    workspace: str,
    *,
    replicas: int,
    require_token: bool = False,
    max_body_bytes: int,
    poll_s: float = 1.0,
) -> Any:
    """The bound Serve application: `replicas` replicas of the pmle app over `workspace`."""
    from ray import serve

    app = ReplicaApp(
        workspace, require_token=require_token, max_body_bytes=max_body_bytes, poll_s=poll_s
    )
    ingress = serve.ingress(app)(PmleServer)
    deployment = serve.deployment(
        name="PmleServer",
        num_replicas=replicas,
        max_ongoing_requests=MAX_ONGOING_REQUESTS,
        ray_actor_options={"num_cpus": 1},
    )(ingress)
    return deployment.bind()


def serve_ray(
    workspace: str,
    *,
    host: str,
    port: int,
    replicas: int,
    require_token: bool,
    max_body_bytes: int,
    address: str | None = None,
    poll_s: float = 1.0,
) -> None:
    """Serve the workspace on Ray Serve until interrupted, then shut Serve down."""
    import os

    from pmle.compute.ray_runtime import import_ray, ray_session

    if not 1 <= replicas <= 64:
        raise InvalidInput(f"replicas must be 1..64, got {replicas}")
    import_ray("serving with --runner ray")  # before binding anything
    if not address:
        _check_port(host, port)  # the proxy would fail later, in a log file
    with ray_session(
        "serving with --runner ray",
        address=address,
        # Each replica asks one CPU; a small machine still runs the replicas it was asked for.
        num_cpus=max(replicas, os.cpu_count() or 1),
        object_store_bytes=SERVE_OBJECT_STORE_BYTES,
    ):
        from ray import serve

        serve.start(http_options={"host": host, "port": port})
        # Ctrl-C or SIGTERM, while starting or serving, stops cleanly: Serve shuts down first.
        try:
            with _sigterm_as_interrupt(), contextlib.suppress(KeyboardInterrupt):
                serve.run(
                    application(
                        workspace,
                        replicas=replicas,
                        require_token=require_token,
                        max_body_bytes=max_body_bytes,
                        poll_s=poll_s,
                    ),
                    name=APP_NAME,
                    route_prefix="/",
                    # No line per request (uvicorn's access log is off too): it costs throughput.
                    logging_config={"enable_access_log": False, "log_level": "WARNING"},
                )
                while True:
                    time.sleep(1.0)
        finally:
            # Replicas run the app's lifespan shutdown: request logs and counters are flushed.
            serve.shutdown()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the server as Ctrl-C does. Ray's own driver handler would kill the local
    Ray's processes from inside the signal handler, skipping Serve's shutdown and leaving
    Ray's agent processes behind."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise Conflict(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="pick another --port, or stop what uses it",
            )


__all__ = ["APP_NAME", "REPLICA_HEADER", "PmleServer", "ReplicaApp", "application", "serve_ray"]
