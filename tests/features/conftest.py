"""Feature store fixtures: a real Redis server on loopback for the Redis online store.

The server is started once per test process (pytest-xdist workers each start their own) with
no persistence, in a temp folder, and stopped at the end; each test gets it emptied. Without a
`redis-server` binary the Redis tests fail: install it (`apt-get install redis-server`) —
they are never skipped."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_online_store_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own online store must not leak into tests.
    monkeypatch.delenv("PMLE_ONLINE_STORE_URL", raising=False)


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


def _start(binary: str, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start redis-server on a free port; another process may take the port between picking
    and binding, so a server that exits at once is retried on a new port."""
    log = folder / "redis.log"
    for _ in range(5):
        port = _free_port()
        # fmt: off
        args = [
            binary, "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(folder),
            "--logfile", str(log), "--daemonize", "no",
        ]
        # fmt: on
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            if _ping(port):
                return proc, port
            time.sleep(0.02)
        _stop(proc)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    pytest.fail(f"redis-server did not answer PING on loopback; its log:\n{tail}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free loopback port, no persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed, and the Redis online store is tested against a "
            "real one: install it (apt-get install redis-server; brew install redis)",
            pytrace=False,
        )
    proc, port = _start(binary, tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The test Redis server's URL, emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server
