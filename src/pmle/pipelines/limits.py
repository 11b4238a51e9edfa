"""CPU and memory limits of leaf tasks as counted semaphores: a task holding `cpu_limit` cores
and `memory_limit` bytes waits until that much of the machine's capacity is free.

A task asking for more than the whole capacity is clamped to it (it then runs alone rather
than never). Limits set from a pipeline parameter (`{{$.inputs.parameters[...]}}`) are read
from the task's ExecutorInput.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pmle.pipelines.ir import Resources

__all__ = ["ResourceLimiter", "task_demand"]


def _total_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 2**63


def task_demand(
    resources: Resources, executor_input: Mapping[str, Any] | None = None
) -> tuple[float, int]:
    """(cores, bytes) a task holds while it runs: its limits (0 where none is set)."""
    from pmle.pipelines.quantities import cpu_cores, is_placeholder, memory_bytes

    def text(value: str) -> str:
        if is_placeholder(value):
            from pmle.pipelines.placeholders import resolve_placeholders

            return resolve_placeholders(value, executor_input or {})
        return value

    cpu = cpu_cores(text(resources.cpu_limit)) if resources.cpu_limit else 0.0
    memory = memory_bytes(text(resources.memory_limit)) if resources.memory_limit else 0
    return cpu, memory


class ResourceLimiter:
    """Counts cores and bytes in use; `cpu` / `memory` default to this machine's."""

    def __init__(self, cpu: float | None = None, memory: int | None = None) -> None:
        self.cpu = float(cpu if cpu is not None else (os.cpu_count() or 1))
        self.memory = int(memory if memory is not None else _total_memory())
        self._cpu_used = 0.0
        self._memory_used = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, cpu: float, memory: int) -> Iterator[None]:
        """Wait until `cpu` cores and `memory` bytes are free, hold them for the block."""
        cpu, memory = min(cpu, self.cpu), min(memory, self.memory)
        with self._cond:
            self._cond.wait_for(
                lambda: (
                    self._cpu_used + cpu <= self.cpu + 1e-9
                    and self._memory_used + memory <= self.memory
                )
            )
            self._cpu_used += cpu
            self._memory_used += memory
        try:
            yield
        finally:
            with self._cond:
                self._cpu_used -= cpu
                self._memory_used -= memory
                self._cond.notify_all()
