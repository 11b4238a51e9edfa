"""A training job's process: starting it with its resource limits, following its log,
stopping its process group, and saying why it failed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pmle.errors import InvalidInput

__all__ = ["failure", "follow_log", "gpu_count", "limits", "parse_memory", "stop_group"]

#: how much of the log's end a failure quotes
TAIL_LINES = 20


def parse_memory(text: str | int | None) -> int | None:
    """Bytes of `2G`, `512M`, `1.5GiB`, or a number of bytes."""
    if text is None:
        return None
    if isinstance(text, int):
        return text
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    try:
        if value and value[-1] in units:
            return int(float(value[:-1]) * units[value[-1]])
        return int(float(value))
    except ValueError:
        raise InvalidInput(f"cannot read the memory {text!r}", hint="e.g. 512M or 2G") from None


def gpu_count() -> int:
    try:
        done = subprocess.run(
            ["nvidia-smi", "--list-gpus"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in done.stdout.splitlines() if line.startswith("GPU "))


def limits(resources: dict[str, Any]) -> Callable[[], None] | None:
    """What the child does before exec: pin CPUs, cap memory."""
    cpus, memory = resources.get("cpus"), resources.get("memory")
    if cpus is None and memory is None:
        return None

    def apply() -> None:
        if cpus is not None and hasattr(os, "sched_setaffinity"):
            allowed = sorted(os.sched_getaffinity(0))
            os.sched_setaffinity(0, allowed[:cpus])
        if memory is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return apply


def stop_group(pid: int) -> None:
    """SIGTERM the job's process group, SIGKILL what is left after 5 s."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def follow_log(
    path: Path, finished: Callable[[], bool], on_output: Callable[[str], None] | None
) -> None:
    """Hand the lines appended to `path` to `on_output` until `finished()` (then the rest)."""
    position = 0
    while True:
        done = finished()
        if on_output is not None:
            try:
                with open(path, "rb") as f:
                    f.seek(position)
                    chunk = f.read()
            except FileNotFoundError:
                chunk = b""
            if chunk:
                complete = chunk if done else chunk[: chunk.rfind(b"\n") + 1]
                position += len(complete)
                for line in complete.decode("utf-8", errors="replace").splitlines():
                    on_output(line)
        if done:
            return
        time.sleep(0.1)


def failure(exit_code: int, log_path: Path) -> str:
    """Why a job failed: its exit (or signal) and the end of its log."""
    if exit_code < 0:
        try:
            what = f"killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            what = f"killed by signal {-exit_code}"
    else:
        what = f"exit code {exit_code}"
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        lines = []
    tail = "\n".join(lines[-TAIL_LINES:])
    if "MemoryError" in tail:
        what += " (out of memory: raise --memory)"
    return f"{what}\n{tail}" if tail else what
