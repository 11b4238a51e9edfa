"""Vega-Lite specs built from data; the page renders them in the browser (static/console.js
with the Vega bundles shipped in static/vendor) and shows the numbers as a table too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"  # an identifier, never fetched


def _base(title: str, rows: Sequence[Mapping[str, Any]], height: int) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "title": title,
        "data": {"values": [dict(r) for r in rows]},
        "width": "container",
        "height": height,
    }


def line(
    title: str,
    rows: Sequence[Mapping[str, Any]],
    x: str,
    y: str,
    *,
    color: str | None = None,
    x_type: str = "quantitative",
    y_title: str | None = None,
    threshold: float | None = None,
    height: int = 200,
) -> dict[str, Any]:
    """A line chart of `y` over `x`, one line per `color`; a dashed rule at `threshold`."""
    encoding: dict[str, Any] = {
        "x": {"field": x, "type": x_type},
        "y": {"field": y, "type": "quantitative", "title": y_title or y},
        "tooltip": [{"field": x, "type": x_type}, {"field": y, "type": "quantitative"}],
    }
    if color:
        encoding["color"] = {"field": color, "type": "nominal"}
        encoding["tooltip"].append({"field": color, "type": "nominal"})
    layer: list[dict[str, Any]] = [{"mark": {"type": "line", "point": True}, "encoding": encoding}]
    if threshold is not None:
        layer.append(
            {
                "data": {"values": [{"t": threshold}]},
                "mark": {"type": "rule", "strokeDash": [4, 4], "color": "#d9534f"},
                "encoding": {"y": {"field": "t", "type": "quantitative"}},
            }
        )
    return {**_base(title, rows, height), "layer": layer}


def bars(
    title: str,
    rows: Sequence[Mapping[str, Any]],
    x: str,
    y: str,
    *,
    color: str | None = None,
    x_type: str = "nominal",
    offset: bool = False,
    height: int = 180,
) -> dict[str, Any]:
    """Bars of `y` per `x`; with `color` and `offset`, grouped side by side."""
    encoding: dict[str, Any] = {
        "x": {"field": x, "type": x_type, "sort": None},
        "y": {"field": y, "type": "quantitative"},
        "tooltip": [{"field": x, "type": x_type}, {"field": y, "type": "quantitative"}],
    }
    if color:
        encoding["color"] = {"field": color, "type": "nominal"}
        encoding["tooltip"].append({"field": color, "type": "nominal"})
        if offset:
            encoding["xOffset"] = {"field": color}
    return {**_base(title, rows, height), "mark": "bar", "encoding": encoding}


def histogram(
    title: str, edges: Sequence[float], counts: Sequence[float], *, height: int = 140
) -> dict[str, Any]:
    """A histogram from bin edges (n + 1) and counts (n)."""
    rows = [
        {"from": float(edges[i]), "to": float(edges[i + 1]), "count": float(counts[i])}
        for i in range(min(len(counts), len(edges) - 1))
    ]
    return {
        **_base(title, rows, height),
        "mark": "bar",
        "encoding": {
            "x": {"field": "from", "type": "quantitative", "bin": {"binned": True}, "title": None},
            "x2": {"field": "to"},
            "y": {"field": "count", "type": "quantitative"},
            "tooltip": [
                {"field": "from", "type": "quantitative", "format": ".4~g"},
                {"field": "to", "type": "quantitative", "format": ".4~g"},
                {"field": "count", "type": "quantitative"},
            ],
        },
    }
