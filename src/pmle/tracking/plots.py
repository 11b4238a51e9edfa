"""Metric curves of runs, drawn: one panel per metric, one line per run (matplotlib, no
display needed). Written as PNG, SVG, or a self-contained HTML page (the SVG inline, no
scripts, no network)."""

from __future__ import annotations

import html
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    from pmle.tracking.records import MetricPoint

__all__ = ["FORMATS", "curves_figure", "write_curves"]

FORMATS = (".png", ".svg", ".html")


def curves_figure(curves: dict[str, dict[str, list[MetricPoint]]]) -> Any:
    """A matplotlib figure of `curves` ({metric: {run: points}})."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    if not curves:
        raise InvalidInput(
            "the runs have no metric with more than one value to draw",
            hint="log a metric at several steps, or name it with --metric",
        )
    count = len(curves)
    columns = min(count, 2)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(6.0 * columns, 3.6 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, (metric, by_run) in enumerate(sorted(curves.items())):
        ax = axes[index // columns][index % columns]
        for run, points in by_run.items():
            ax.plot(
                [p.step for p in points],
                [p.value for p in points],
                marker="o" if len(points) < 30 else None,
                markersize=3,
                label=run,
            )
        ax.set_title(metric)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for index in range(count, rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    return figure


def write_curves(curves: dict[str, dict[str, list[MetricPoint]]], path: str | Path) -> Path:
    """Draw `curves` to `path` (.png, .svg or .html, by its suffix)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(
            f"cannot draw to {target.name}: unknown format", hint="use a .png, .svg or .html file"
        )
    figure = curves_figure(curves)
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        figure.savefig(target, format="png", dpi=110)
        return target
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    if suffix == ".svg":
        target.write_text(svg, encoding="utf-8")
        return target
    svg = svg[svg.find("<svg") :]  # drop the XML prologue inside HTML
    rows = "".join(
        f"<tr><td>{html.escape(metric)}</td><td>{html.escape(run)}</td>"
        f"<td>{len(points)}</td><td>{points[-1].value:.6g}</td></tr>"
        for metric, by_run in sorted(curves.items())
        for run, points in by_run.items()
        if points
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>pmle run curves</title>"
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}</style></head>"
        f"<body><h1>Run curves</h1>{svg}<table><tr><th>metric</th><th>run</th>"
        f"<th>points</th><th>last value</th></tr>{rows}</table></body></html>"
    )
    target.write_text(page, encoding="utf-8")
    return target
