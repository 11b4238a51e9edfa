"""Directed graphs (pipeline DAGs, lineage) drawn as SVG on the server: layered left to right
(longest path from the sources), ordered within a layer by their parents' mean position,
boxes linking to their pages, curved edges. No script needed to read them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

NODE_W = 170
NODE_H = 44
GAP_X = 60
GAP_Y = 18
PAD = 12


@dataclass(frozen=True)
class Node:
    """One box: an id, a label, a second line, a CSS state class and an optional link."""

    id: str
    label: str
    detail: str = ""
    state: str = ""
    href: str | None = None


def _layers(nodes: Sequence[Node], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    ids = {n.id for n in nodes}
    parents: dict[str, list[str]] = {n.id: [] for n in nodes}
    for a, b in edges:
        if a in ids and b in ids and a != b:
            parents[b].append(a)
    layer: dict[str, int] = {}

    def depth(node: str, seen: frozenset[str]) -> int:
        if node in layer:
            return layer[node]
        if node in seen:  # a cycle: break it here
            return 0
        d = max((depth(p, seen | {node}) + 1 for p in parents[node]), default=0)
        layer[node] = d
        return d

    for n in nodes:
        depth(n.id, frozenset())
    return layer


def _fit(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def svg(nodes: Sequence[Node], edges: Sequence[tuple[str, str]], *, label: str) -> Markup:
    """The graph as an inline SVG element (accessible name `label`)."""
    if not nodes:
        return Markup("")
    layer = _layers(nodes, edges)
    columns: dict[int, list[Node]] = {}
    for n in nodes:
        columns.setdefault(layer[n.id], []).append(n)
    row: dict[str, float] = {}
    parents: dict[str, list[str]] = {}
    for a, b in edges:
        parents.setdefault(b, []).append(a)
    for col in sorted(columns):
        members = columns[col]
        if col > 0:  # order by the parents' mean row, keeping input order on ties
            members.sort(
                key=lambda n: (
                    sum(row.get(p, 0.0) for p in parents.get(n.id, []))
                    / max(1, len(parents.get(n.id, [])))
                )
            )
        for i, n in enumerate(members):
            row[n.id] = float(i)
    tallest = max(len(m) for m in columns.values())
    width = PAD * 2 + len(columns) * NODE_W + (len(columns) - 1) * GAP_X
    height = PAD * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y
    pos: dict[str, tuple[float, float]] = {}
    for col, members in columns.items():
        offset = (tallest - len(members)) * (NODE_H + GAP_Y) / 2
        for i, n in enumerate(members):
            pos[n.id] = (PAD + col * (NODE_W + GAP_X), PAD + offset + i * (NODE_H + GAP_Y))
    parts = [
        f'<svg class="dag" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} '
        f'{height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'class="edge" style="fill:currentColor"/></marker></defs>',
    ]
    for a, b in edges:
        if a not in pos or b not in pos or a == b:
            continue
        (x1, y1), (x2, y2) = pos[a], pos[b]
        sx, sy, ex, ey = x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
        mid = (sx + ex) / 2
        parts.append(
            f'<path class="edge" marker-end="url(#arrow)" d="M {sx:.1f} {sy:.1f} C {mid:.1f} '
            f'{sy:.1f}, {mid:.1f} {ey:.1f}, {ex - 2:.1f} {ey:.1f}"/>'
        )
    for n in nodes:
        x, y = pos[n.id]
        box = (
            f'<g class="node {escape(n.state.lower())}" data-node="{escape(n.id)}">'
            f"<title>{escape(n.label)}{' — ' + escape(n.detail) if n.detail else ''}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            f'<text x="{x + 8:.1f}" y="{y + 18:.1f}">{escape(_fit(n.label))}</text>'
            f'<text x="{x + 8:.1f}" y="{y + 35:.1f}" class="muted" style="opacity:.75">'
            f"{escape(_fit(n.detail, 28))}</text></g>"
        )
        if n.href:
            box = f'<a href="{escape(n.href)}">{box}</a>'
        parts.append(box)
    parts.append("</svg>")
    return Markup("".join(parts))
