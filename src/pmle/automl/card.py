"""The model card of an AutoML model, in Markdown and HTML."""

from __future__ import annotations

import html
from typing import Any


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown(facts: dict[str, Any]) -> str:
    """A Markdown model card from the facts AutoML gathered."""
    lines = [f"# Model card: {facts['model']}", ""]
    lines += [
        "## Overview",
        "",
        f"- Task: **{facts['task']}** — predicts `{facts['target']}`"
        + (f" (classes: {', '.join(map(str, facts['classes']))})" if facts.get("classes") else ""),
        f"- Trained on: `{facts['dataset']}` ({facts['train_rows']:,} rows)",
        f"- Objective: `{facts['objective']}`; validation: {facts['validation']}",
        f"- Search: {facts['candidates']} candidates in {facts['seconds']:.1f} s "
        f"(budget {facts['budget']:g} s)",
        f"- Created: {facts['created_at']}",
        "",
        "## Metrics",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in facts["metrics"].items()]
    lines += [
        "",
        "## Leaderboard",
        "",
        "| candidate | family | score | seconds | ensemble weight |",
        "|---|---|---|---|---|",
    ]
    for e in facts["leaderboard"]:
        lines.append(
            f"| {e['name']} | {e['family']} | {e['score']:.5g} | {e['seconds']:.1f} | "
            f"{e['weight']:.2f} |"
        )
    lines += ["", "## Feature importance (gain share)", "", "| feature | importance |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in list(facts["importance"].items())[:25]]
    if facts.get("notes"):
        lines += ["", "## Data notes", ""] + [f"- {n}" for n in facts["notes"]]
    lines += [
        "",
        "## Intended use and limits",
        "",
        "- Scores rows that look like the training data. Check the monitoring reports for skew "
        "and drift before trusting predictions on data from another period or population.",
        "- Metrics were measured on the data named above; they are estimates, not guarantees.",
        "- Review the feature importance for proxies of protected attributes before use in "
        "decisions about people.",
        "",
    ]
    return "\n".join(lines)


def to_html(md: str) -> str:
    """A small, dependency-free rendering of the card's Markdown subset as HTML."""
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Model card</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:.25rem .6rem;text-align:left}code{background:#f4f4f4}</style></head><body>",
    ]
    in_table = in_list = False
    for raw in md.splitlines():
        line = html.escape(raw)
        line = _inline(line)
        if raw.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set(raw.replace("|", "").strip()) <= {"-"}:
                continue
            if not in_table:
                out.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in cells) + "</tr>")
                in_table = True
            else:
                out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if raw.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{line[2:]}</li>")
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        if raw.startswith("## "):
            out.append(f"<h2>{line[3:]}</h2>")
        elif raw.startswith("# "):
            out.append(f"<h1>{line[2:]}</h1>")
        elif raw.strip():
            out.append(f"<p>{line}</p>")
    if in_table:
        out.append("</table>")
    if in_list:
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out)


def _inline(text: str) -> str:
    import re

    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)
