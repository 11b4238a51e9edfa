"""CPU / memory limits counted as semaphores."""

from __future__ import annotations

import threading
import time

from pmle.pipelines.ir import Resources
from pmle.pipelines.limits import ResourceLimiter, task_demand


def test_task_demand() -> None:
    assert task_demand(Resources()) == (0.0, 0)
    assert task_demand(Resources(cpu_limit="500m", memory_limit="1Gi")) == (0.5, 2**30)
    placeholder = Resources(cpu_limit="{{$.inputs.parameters['pipelinechannel--cpu']}}")
    executor_input = {"inputs": {"parameterValues": {"pipelinechannel--cpu": "2"}}}
    assert task_demand(placeholder, executor_input) == (2.0, 0)


def test_hold_waits_for_capacity() -> None:
    limiter = ResourceLimiter(cpu=2, memory=100)
    order: list[str] = []
    with limiter.hold(1.5, 10):
        thread = threading.Thread(target=lambda: _hold(limiter, order))
        thread.start()
        time.sleep(0.1)
        order.append("first done")
    thread.join()
    assert order == ["first done", "second ran"]
    with limiter.hold(99, 1000):  # clamped to the whole capacity instead of waiting forever
        pass


def _hold(limiter: ResourceLimiter, order: list[str]) -> None:
    with limiter.hold(1, 10):
        order.append("second ran")
