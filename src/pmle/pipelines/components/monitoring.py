"""Running a model monitor as a pipeline step."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pmle.monitoring.records import MonitorRun
    from pmle.workspace import Workspace

__all__ = ["run_monitor_step"]


def run_monitor_step(ws: Workspace, monitor: str, *, data: str = "") -> MonitorRun:
    """Run `monitor` now — over `data` (a dataset, table or file) when given, else over its
    endpoint's logged requests — and return the run (`.alerts`, `.state`)."""
    return ws.monitors.run(monitor, data=data or None)
