"""The workspace overview: what it holds, what is running, what needs a look."""

from __future__ import annotations

from pmle.server.console.router import Ctx, Reply, page


@page("/")
def overview(c: Ctx) -> Reply:
    ws = c.ws
    counts = ws.counts()
    runs = ws.pipelines.list(limit=5)
    alerts = ws.monitors.alerts(limit=5)
    endpoints = ws.endpoints.list()
    views = ws.features.views()
    attempts = ws.exam.attempts(limit=3)
    return c.render(
        "overview.html",
        counts=counts,
        runs=runs,
        alerts=alerts,
        endpoints=endpoints,
        views=len(views),
        attempts=attempts,
        root=str(ws.root),
    )
