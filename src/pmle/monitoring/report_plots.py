"""The plots of a monitor run's report (see `report`): PNG bytes, drawn with matplotlib's Agg
canvas on a `Figure` (never pyplot, so a user's backend and figure registry are left alone).
matplotlib is imported inside the functions that draw, so importing this module stays cheap.

Agg spends its time on text (over a millisecond a label in matplotlib 3.11, most of it per
glyph), and an Axes builds ticks, spines and axis objects that cost more than the plot. So plots
are drawn on bare panels (`_Panel`), bars as one collection each, with few short labels: cut
points rather than intervals, no zero tick.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pmle.monitoring.report import (
    _BASELINE,
    _CURRENT,
    MAX_PLOTTED_FEATURES,
    _alarming_first,
    _by_value,
    _check,
    _edge_texts,
    _fmt,
    _label,
    _number,
    _objectives,
    _value,
    _with_current,
    buckets,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Features drawn as lines in the "metric over time" plot.
MAX_HISTORY_LINES = 10
#: Resolution of every plot.
DPI = 100

_TRAINING = "#54a24b"
_ALERT, _OK, _INK = "#d62728", "#4c78a8", "#333333"
_LABEL_CHARS = 26


def _short(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Panel:
    """A plotting area placed in inches on a figure, for data within `xlim` × `ylim`."""

    def __init__(
        self,
        fig: Figure,
        box: tuple[float, float, float, float],
        xlim: tuple[float, float],
        ylim: tuple[float, float],
    ) -> None:
        from matplotlib.transforms import Affine2D

        self.fig, self.box, self.xlim, self.ylim = fig, box, xlim, ylim
        left, bottom, width, height = box
        (x0, x1), (y0, y1) = xlim, ylim
        self.sx, self.sy = width / ((x1 - x0) or 1.0), height / ((y1 - y0) or 1.0)
        self.data = (
            Affine2D().translate(-x0, -y0).scale(self.sx, self.sy).translate(left, bottom)
            + fig.dpi_scale_trans
        )

    def inches(self, x: float, y: float) -> tuple[float, float]:
        return (
            self.box[0] + (x - self.xlim[0]) * self.sx,
            self.box[1] + (y - self.ylim[0]) * self.sy,
        )

    def hbars(
        self, at: Sequence[float], lengths: Sequence[float], thick: float, color: Any
    ) -> None:
        from matplotlib.collections import PolyCollection

        boxes = [
            [(0, y), (v, y), (v, y + thick), (0, y + thick)]
            for y, v in zip(at, lengths, strict=True)
        ]
        self.fig.add_artist(
            PolyCollection(boxes, facecolors=color, edgecolors="none", transform=self.data)
        )

    def lines(self, segments: Sequence[Any], color: Any, width: float = 0.6, **kw: Any) -> None:
        from matplotlib.collections import LineCollection

        self.fig.add_artist(
            LineCollection(segments, colors=color, linewidths=width, transform=self.data, **kw)
        )

    def text(self, x: float, y: float, s: str, dx: float = 0.0, dy: float = 0.0, **kw: Any) -> None:
        """`s` at data point (x, y) moved by (dx, dy) inches; 7 pt, no mathtext."""
        xi, yi = self.inches(x, y)
        kw.setdefault("fontsize", 7)
        self.fig.text(
            xi + dx, yi + dy, s, transform=self.fig.dpi_scale_trans, parse_math=False, **kw
        )


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    # A bare Figure belongs to no pyplot registry: nothing to close, the collector frees it.
    # zlib level 3 encodes twice as fast as the default 6 for files ~15 % larger.
    buf = io.BytesIO()
    fig.savefig(
        buf, format="png", dpi=DPI, metadata={"Software": None}, pil_kwargs={"compress_level": 3}
    )
    return buf.getvalue()


def _ticks(top: float) -> list[float]:
    from matplotlib.ticker import MaxNLocator

    return [float(t) for t in MaxNLocator(3).tick_values(0.0, top) if 0 <= t <= top * 1.0001]


def _tick_label(t: float, step: float, percent: bool) -> str:
    if not percent:
        return f"{t:g}"
    decimals = max(0, -math.floor(math.log10(step * 100))) if step > 0 else 0
    return f"{t * 100:.{decimals}f}%"


def _label_width(labels: Sequence[str]) -> float:
    """Inches the longest of `labels` takes at 7 pt, with a margin."""
    return 0.2 + 0.055 * max((len(s) for s in labels), default=1)


def _legend(fig: Figure, x: float, y: float, entries: Sequence[tuple[str, Any, str]]) -> None:
    """Entries (label, color, "bar" | "line" | "dash") downwards from (x, y) in inches."""
    from matplotlib.lines import Line2D

    for i, (label, color, kind) in enumerate(entries):
        yi = y - 0.17 * i
        style = {"bar": ("-", 6.0), "line": ("-", 1.5), "dash": ("--", 1.0)}[kind]
        fig.add_artist(
            Line2D(
                [x, x + 0.2],
                [yi, yi],
                color=color,
                ls=style[0],
                lw=style[1],
                transform=fig.dpi_scale_trans,
            )
        )
        fig.text(
            x + 0.27,
            yi,
            label,
            fontsize=7,
            va="center",
            parse_math=False,
            transform=fig.dpi_scale_trans,
        )


def _hbar_chart(
    fig: Figure,
    box: tuple[float, float, float, float],
    labels: Sequence[str],
    series: Sequence[tuple[Sequence[float], Any]],
    percent: bool = False,
    label_colors: Sequence[str] | None = None,
    top: float = 0.0,
    between: Sequence[tuple[float, str]] = (),
) -> _Panel:
    """Grouped horizontal bars (one group per label, the first at the top), a grid, labels;
    `between` labels (y, text) go at the boundaries between groups, with a tick."""
    n = len(labels)
    series = [([max(_number(v, 0.0), 0.0) for v in values], color) for values, color in series]
    top = max([top, *(v for values, _ in series for v in values)]) or 1.0
    ticks = _ticks(top * 1.08)
    panel = _Panel(fig, box, (0.0, max(top * 1.08, ticks[-1])), (n - 0.5, -0.5))
    panel.lines([[(t, -0.5), (t, n - 0.5)] for t in ticks[1:]], "#dddddd")
    thick = 0.8 / max(len(series), 1)
    for i, (values, color) in enumerate(series):
        panel.hbars([y - 0.4 + i * thick for y in range(n)], values, thick, color)
    panel.lines([[(0, -0.5), (0, n - 0.5)]], _INK, 0.8)
    colors = label_colors or [_INK] * n
    for row, (s, c) in enumerate(zip(labels, colors, strict=False)):
        if s:
            panel.text(0, row, _short(s), dx=-0.05, ha="right", va="center", color=c)
    panel.lines([[(-0.04 / panel.sx, at), (0, at)] for at, _ in between], _INK, 0.8)
    for at, s in between:
        panel.text(0, at, s, dx=-0.06, ha="right", va="center")
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 0.0
    for t in ticks[1:]:  # the axis line marks zero
        panel.text(t, n - 0.5, _tick_label(t, step, percent), dy=-0.04, ha="center", va="top")
    return panel


def _axis_labels(entry: Mapping[str, Any]) -> tuple[list[str], list[tuple[float, str]]]:
    """Labels of a distribution's rows, and of the boundaries between them: a numerical
    histogram labels its cut points (a quarter of the glyphs of interval labels, and glyphs
    are what Agg spends its time on)."""
    labels, _, _ = buckets(entry.get("baseline"), entry.get("current"))
    hist = entry.get("baseline") or entry.get("current") or {}
    edges = _edge_texts(hist.get("edges", [])) if hist.get("kind") == "numeric" else []
    if not edges:
        return labels, []
    return ["", *[""] * len(edges), "missing"], [(i + 0.5, t) for i, t in enumerate(edges)]


def _distribution(fig: Figure, box: tuple[float, float, float, float], entry: Any) -> None:
    _, p, q = buckets(entry.get("baseline"), entry.get("current"))
    rows, between = _axis_labels(entry)
    series = [(p, _BASELINE), (q, _CURRENT)]
    _hbar_chart(fig, box, rows, series, percent=True, between=between)


def _distribution_height(entry: Mapping[str, Any]) -> float:
    return 0.16 * len(_axis_labels(entry)[0])


def _distribution_left(entry: Mapping[str, Any]) -> float:
    rows, between = _axis_labels(entry)
    return _label_width([*(_short(s) for s in rows), *(t for _, t in between)])


def distribution_png(entry: Mapping[str, Any]) -> bytes:
    """One feature's baseline and current share of rows per bucket, side by side."""
    left, height = _distribution_left(entry), _distribution_height(entry)
    fig = _figure(4.6, height + 0.35)
    _distribution(fig, (left, 0.25, 4.4 - left, height), entry)
    return _png(fig)


def render_summary_png(run: Mapping[str, Any]) -> bytes:
    """The run on one image: each feature's distance against its threshold, and the
    distributions of the (up to three) most anomalous features."""
    _check(run)
    feats = _by_value(_alarming_first(run.get("features", []))[:MAX_PLOTTED_FEATURES])
    both = _objectives(feats) > 1
    dists = [
        e
        for e in _alarming_first(feats)
        if e.get("anomalous") and (e.get("baseline") or e.get("current"))
    ][:3]
    labels = [_label(e, both) for e in feats] or ["(no features)"]
    bars_h = 0.2 * len(labels)
    dist_h = max((_distribution_height(e) for e in dists), default=0.0)
    lower = dist_h + 0.75 if dists else 0.0
    width, height = 10.0, 0.75 + bars_h + 0.45 + lower
    fig = _figure(width, height)
    alerts, more = len(run.get("alerts") or []), len(run.get("features", [])) - len(feats)
    title = (
        f"monitor {run.get('monitor')} · run {run.get('run_id')} · model {run.get('model')}"
        f" · {_fmt(run.get('rows'))} rows · {alerts} alert{'s' * (alerts != 1)}"
        + (f" · {more} more features not shown" if more > 0 else "")
    )
    fig.text(
        0.15,
        height - 0.3,
        title,
        fontsize=10,
        weight="bold",
        parse_math=False,
        transform=fig.dpi_scale_trans,
    )
    left = min(3.0, _label_width([_short(s) for s in labels]))
    values = [max(_value(e), 0.0) for e in feats] or [0.0]
    colors = [_ALERT if e.get("anomalous") else _OK for e in feats] or [_OK]
    thresholds = [(y, float(e["threshold"])) for y, e in enumerate(feats) if e.get("threshold")]
    panel = _hbar_chart(
        fig,
        (left, lower + 0.45, width - left - 1.7, bars_h),
        labels,
        [(values, colors)],
        label_colors=[_ALERT if e.get("anomalous") else _INK for e in feats],
        top=max([0.05, *(t for _, t in thresholds)]),
    )
    panel.lines([[(t, y - 0.45), (t, y + 0.45)] for y, t in thresholds], _INK, 1.5)
    for y, e in enumerate(feats):
        shown = f"{values[y]:.3g}" if _value(e) > -math.inf else "—"
        panel.text(values[y], y, shown, dx=0.04, va="center", color="#555555")
    panel.text(
        0, len(labels) - 0.5, "distance (Jensen–Shannon divergence or L∞)", dy=-0.2, va="top"
    )
    _legend(
        fig,
        width - 1.55,
        lower + 0.45 + bars_h - 0.05,
        [
            ("anomalous", _ALERT, "bar"),
            ("within threshold", _OK, "bar"),
            ("threshold", _INK, "line"),
        ],
    )
    cell = (width - 0.3) / max(len(dists), 1)
    for i, entry in enumerate(dists):
        lw = min(cell * 0.45, _distribution_left(entry))
        h = _distribution_height(entry)
        x0 = 0.15 + i * cell
        _distribution(fig, (x0 + lw, 0.3 + dist_h - h, cell - lw - 0.2, h), entry)
        flag = "  ALERT" if entry.get("anomalous") else ""
        fig.text(
            x0,
            0.35 + dist_h + 0.05,
            f"{_short(_label(entry, both), 40)} · {_fmt(entry.get('value'))}{flag}",
            fontsize=8,
            weight="bold",
            parse_math=False,
            transform=fig.dpi_scale_trans,
            color=_ALERT if entry.get("anomalous") else _INK,
        )
    if dists:
        _legend(
            fig,
            width - 1.3,
            0.35 + dist_h + 0.45,
            [("baseline", _BASELINE, "bar"), ("current", _CURRENT, "bar")],
        )
    return _png(fig)


def _line_chart(
    fig: Figure,
    box: tuple[float, float, float, float],
    runs: Sequence[Mapping[str, Any]],
    lines: Sequence[tuple[str, Sequence[float]]],
    ylabel: str,
    thresholds: Sequence[float] = (),
) -> None:
    """Values per run as lines with markers, dashed threshold lines, a legend at the right."""
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    palette = colormaps["tab10"].colors  # type: ignore[attr-defined]
    finite = [v for _, ys in lines for v in ys if math.isfinite(v)]
    top = max([*finite, *thresholds, 1e-9]) * 1.1
    ticks = _ticks(top)
    n = len(runs)
    panel = _Panel(fig, box, (-0.3, n - 0.7), (0.0, max(top, ticks[-1])))
    panel.lines([[(-0.3, t), (n - 0.7, t)] for t in ticks], "#dddddd")
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 0.0
    for t in ticks:
        panel.text(-0.3, t, _tick_label(t, step, False), dx=-0.05, ha="right", va="center")
    every = max(1, math.ceil(n / 12))
    for i in range(0, n, every):
        panel.text(i, 0, f"#{runs[i].get('run_id')}", dy=-0.05, ha="center", va="top")
    panel.text(-0.3, panel.ylim[1], ylabel, dy=0.08, ha="left", va="bottom")
    entries: list[tuple[str, Any, str]] = []
    for i, (label, ys) in enumerate(lines):
        color = palette[i % len(palette)]
        fig.add_artist(
            Line2D(range(n), ys, color=color, lw=1.2, marker="o", ms=3, transform=panel.data)
        )
        entries.append((_short(label), color, "line"))
    for t in thresholds:
        panel.lines([[(-0.3, t), (n - 0.7, t)]], _ALERT, 1.0, linestyles="dashed")
        entries.append((f"threshold {t:g}", _ALERT, "dash"))
    _legend(fig, box[0] + box[2] + 0.2, box[1] + box[3] - 0.05, entries)


def history_png(run: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> bytes:
    """Each feature's distance across runs with its threshold, and performance metrics."""
    runs = _with_current(run, history)
    current = _alarming_first(run.get("features", []))[:MAX_HISTORY_LINES]
    both = _objectives(current) > 1
    values = [
        {(f.get("objective"), f.get("feature")): _number(f.get("value")) for f in r["features"]}
        for r in runs
        if isinstance(r.get("features"), list)
    ]
    lines = [
        (_label(e, both), [v.get((e.get("objective"), e.get("feature")), math.nan) for v in values])
        for e in current
    ]
    thresholds = sorted({float(e["threshold"]) for e in current if e.get("threshold")})
    perf = [(r.get("performance") or {}).get("metrics") or {} for r in runs]
    names = sorted({m for p in perf for m in p})
    show_perf = bool(names) and sum(map(bool, perf)) >= 2
    low = 2.3 if show_perf else 0.0
    fig = _figure(9.0, 2.9 + low)
    _line_chart(fig, (0.6, 0.35 + low, 6.0, 2.2), runs, lines, "distance", thresholds)
    if show_perf:
        perf_lines = [(m, [_number(p.get(m)) for p in perf]) for m in names]
        _line_chart(fig, (0.6, 0.35, 6.0, 1.6), runs, perf_lines, "performance")
    return _png(fig)


def attributions_png(attributions: Sequence[Mapping[str, Any]]) -> bytes:
    """Each feature's share of the attributions, baseline beside current."""
    shown = sorted(attributions, key=lambda a: -max(a.get("current") or 0, a.get("baseline") or 0))
    shown = shown[:MAX_PLOTTED_FEATURES]
    both = _objectives(shown) > 1
    labels = [_label(a, both) for a in shown]
    left, height = _label_width([_short(s) for s in labels]), 0.26 * len(labels)
    fig = _figure(6.5, height + 0.4)
    series = [
        ([float(a.get(side) or 0) for a in shown], color)
        for side, color in (("baseline", _BASELINE), ("current", _CURRENT))
    ]
    colors = [_ALERT if a.get("anomalous") else _INK for a in shown]
    _hbar_chart(fig, (left, 0.3, 6.5 - left - 1.2, height), labels, series, True, colors)
    _legend(
        fig, 5.45, 0.25 + height, [("baseline", _BASELINE, "bar"), ("current", _CURRENT, "bar")]
    )
    return _png(fig)


def performance_png(performance: Mapping[str, Any]) -> bytes:
    """The window's metrics beside the training metrics and the simple baseline model's."""
    names = list(performance.get("metrics") or {})
    sources = [
        ("this window", performance.get("metrics"), _CURRENT),
        ("training", performance.get("training"), _TRAINING),
        ("baseline model", performance.get("baseline_model"), "#9d9d9d"),
    ]
    used = [(s, d, c) for s, d, c in sources if d]
    series = [([float(d.get(n) or 0) for n in names], c) for _, d, c in used]
    left, height = _label_width(names), 0.2 * len(used) * max(len(names), 1)
    fig = _figure(6.0, height + 0.4)
    degraded = set(performance.get("degraded") or [])
    colors = [_ALERT if n in degraded else _INK for n in names]
    _hbar_chart(fig, (left, 0.3, 6.0 - left - 1.4, height), names, series, False, colors)
    _legend(fig, 4.75, 0.25 + height, [(s, c, "bar") for s, _, c in used])
    return _png(fig)
