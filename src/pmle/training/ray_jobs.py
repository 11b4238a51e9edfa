"""A training job's process run as a Ray task (`runner="ray"`), with its CPU, memory and GPU
requests as the task's resources. The task runs the same command with the same environment and
writes the same log file, so the job folder must be on a file system the Ray worker shares (a
local Ray always does)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["run_on_ray"]


def _run_process(argv: list[str], env: dict[str, str], log_path: str, cancel_path: str) -> int:
    """Inside the Ray worker: run the job's process; stop it when the CANCEL file appears."""
    import os
    import signal
    import subprocess

    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    while process.poll() is None:
        if os.path.exists(cancel_path):
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        time.sleep(0.1)
    return int(process.wait())


def run_on_ray(
    argv: list[str],
    env: dict[str, str],
    log_path: Path,
    resources: dict[str, Any],
    address: str | None,
    on_output: Callable[[str], None] | None,
) -> int:
    """The job's exit code, its process having run as one Ray task."""
    from pmle.compute.ray_runtime import ray_session
    from pmle.training.job_process import follow_log

    options: dict[str, Any] = {"num_cpus": resources.get("cpus", 1), "max_retries": 0}
    if "memory" in resources:
        options["memory"] = resources["memory"]
    if "gpus" in resources:
        options["num_gpus"] = resources["gpus"]
    cancel = log_path.with_name("CANCEL")
    with ray_session("a training job with runner='ray'", address=address) as ray:
        task = ray.remote(_run_process).options(**options)
        ref = task.remote(argv, env, str(log_path), str(cancel))
        follow_log(log_path, lambda: bool(ray.wait([ref], timeout=0)[0]), on_output)
        try:
            return int(ray.get(ref))
        except KeyboardInterrupt:
            cancel.write_text("cancel", encoding="utf-8")
            raise
