"""The console's datasets pages: every dataset, and one dataset's version with its schema,
stored statistics (histograms, top values), versions and lineage."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.server.console.links import execution_href
from pmle.server.console.paging import bounds
from pmle.server.console.router import Ctx, Reply, is_id, page

if TYPE_CHECKING:
    from markupsafe import Markup

    from pmle.data.datasets import DatasetVersion
    from pmle.storage.lineage import LineageGraph

#: Columns a page of statistics shows (each one may draw a chart).
COLUMNS_PER_PAGE = 50
#: How far the lineage graph walks up and down from the version.
LINEAGE_DEPTH = 3
#: Nodes a lineage graph draws at most (a dataset read by hundreds of runs stays legible).
LINEAGE_NODES = 60


@page("/datasets")
def datasets(c: Ctx) -> Reply:
    items = c.ws.datasets.list()
    pager = bounds(len(items), c.int_arg("page", 1, lo=1))
    return c.render("datasets.html", items=items[pager["start"] : pager["stop"]], pager=pager)


@page("/datasets/(?P<name>[^/]+)")
def dataset(c: Ctx, name: str) -> Reply:
    ws = c.ws
    version = c.arg("version")
    if version == "latest":
        version = ""
    if version and not is_id(version):
        raise InvalidInput(f"bad version {version!r}", hint="write ?version=3")
    dv = ws.datasets.get(f"{name}@{version}" if version else name)
    versions = list(reversed(ws.datasets.versions(name)))
    vpager = bounds(len(versions), c.int_arg("vpage", 1, lo=1))
    cpager = bounds(len(dv.columns), c.int_arg("page", 1, lo=1), COLUMNS_PER_PAGE)
    shown = dv.columns[cpager["start"] : cpager["stop"]]
    stats = dv.stats.get("columns", {})
    return c.render(
        "datasets_detail.html",
        dv=dv,
        latest=versions[0].version if versions else dv.version,
        columns=[(col, stats.get(col.name, {})) for col in shown],
        charts={col.name: _chart_of(col.name, stats.get(col.name, {})) for col in shown},
        versions=versions[vpager["start"] : vpager["stop"]],
        vpager=vpager,
        cpager=cpager,
        lineage=_lineage(c, dv),
    )


def _chart_of(column: str, stats: dict[str, Any]) -> dict[str, Any] | None:
    """A histogram for a numeric column, bars of its most frequent values for the others."""
    from pmle.server.console import charts

    hist = stats.get("histogram")
    if hist and hist.get("counts") and len(hist.get("edges", [])) >= 2:
        return charts.histogram(column, hist["edges"], hist["counts"])
    top = stats.get("top_values")
    if top:
        rows = [{"value": str(t["value"]), "count": t["count"]} for t in top]
        return charts.bars(f"{column}: most frequent values", rows, "value", "count")
    return None


def _href(uri: str | None) -> str | None:
    """The console page of a lineage artifact, from its pmle:// URI."""
    if not uri:
        return None
    for pattern, target in (
        (r"pmle://datasets/([^/]+)/versions/(\d+)$", "/datasets/{0}?version={1}"),
        (r"pmle://models/([^/]+)/versions/(\d+)$", "/models/{0}?version={1}"),
        (r"pmle://features/([^/]+)/versions/(\d+)$", "/features/{0}?version={1}"),
    ):
        m = re.match(pattern, uri)
        if m:
            return target.format(*m.groups())
    return None


def _lineage(c: Ctx, dv: DatasetVersion) -> Markup | None:
    """The version's lineage: what produced it (up) and what was made from it (down)."""
    from pmle.server.console.dag import Node, svg

    if dv.lineage_artifact_id is None:
        return None
    lineage = c.ws.lineage
    up = lineage.upstream(dv.lineage_artifact_id, max_depth=LINEAGE_DEPTH)
    down = lineage.downstream(dv.lineage_artifact_id, max_depth=LINEAGE_DEPTH)
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    for graph in (up, down):
        _add(graph, nodes, edges, dv.lineage_artifact_id)
    if len(nodes) > LINEAGE_NODES:  # keep the version and its nearest neighbours
        keep = set(list(nodes)[:LINEAGE_NODES])
        nodes = {k: v for k, v in nodes.items() if k in keep}
        edges = [(a, b) for a, b in edges if a in keep and b in keep]
    return svg(list(nodes.values()), edges, label=f"Lineage of {dv.ref}")


def _add(
    graph: LineageGraph, nodes: dict[str, Any], edges: list[tuple[str, str]], root: int
) -> None:
    from pmle.server.console.dag import Node

    for art in graph.artifacts.values():
        key = f"a{art.id}"
        if key not in nodes:
            nodes[key] = Node(
                key,
                art.name or art.type,
                art.type,
                "current" if art.id == root else "",
                None if art.id == root else _href(art.uri),
            )
    for ex in graph.executions.values():
        key = f"e{ex.id}"
        if key not in nodes:
            state = {"COMPLETE": "succeeded", "FAILED": "failed", "CACHED": "cached"}
            nodes[key] = Node(
                key,
                ex.type,
                ex.name or ex.state,
                state.get(ex.state, ex.state.lower()),
                execution_href(ex.type, ex.name, ex.properties),
            )
    for e in graph.events:
        if e.artifact_id not in graph.artifacts or e.execution_id not in graph.executions:
            continue
        edge = (
            (f"a{e.artifact_id}", f"e{e.execution_id}")
            if e.type == "INPUT"
            else (f"e{e.execution_id}", f"a{e.artifact_id}")
        )
        if edge not in edges:
            edges.append(edge)
