"""Rich renderings shared by commands: dataset schemas, statistics, lineage trees."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from rich.table import Table
    from rich.tree import Tree

    from pmle.data.datasets import DatasetVersion
    from pmle.storage.lineage import LineageGraph

_BLOCKS = " ▁▂▃▄▅▆▇█"


def sparkline(counts: list[int]) -> str:
    """A histogram as one line of block characters."""
    if not counts:
        return ""
    top = max(counts) or 1
    return "".join(_BLOCKS[0 if c == 0 else max(1, round(c / top * 8))] for c in counts)


def when(value: datetime | None) -> str:
    """A time as `YYYY-MM-DD HH:MM:SS`, or a dash."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "—"


def fmt_num(value: Any) -> str:
    """Numbers short and readable: 1234567 -> 1,234,567; 0.123456 -> 0.1235."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    return str(value)


def titled_table(title: str, columns: list[tuple[str, str]]) -> Table:
    """A table with a left-aligned title and `(header, justify)` columns."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for header, justify in columns:
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    return table


def schema_table(dv: DatasetVersion) -> Table:
    """The columns of a dataset version: type, kind, nulls, distinct values."""
    from rich.table import Table

    table = Table(
        title=f"{dv.ref} — {dv.num_rows:,} rows × {len(dv.columns)} columns", title_justify="left"
    )
    table.add_column("column", style="bold", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("kind", style="cyan", no_wrap=True)
    table.add_column("nulls", justify="right")
    table.add_column("distinct", justify="right")
    table.add_column("note", style="dim")
    for c in dv.columns:
        s = dv.stats["columns"].get(c.name, {})
        nulls = s.get("nulls", 0)
        table.add_row(
            c.name,
            c.type,
            c.kind,
            f"{nulls:,}" if nulls else "[dim]0[/]",
            fmt_num(s.get("distinct")),
            c.note,
        )
    return table


def stats_table(dv: DatasetVersion, columns: list[str] | None = None, width: int = 160) -> Table:
    """Statistics per column, with a histogram or the most frequent values.

    Below 120 characters of `width`, std / min / max are left out so the rest stays readable."""
    from rich.table import Table

    if width >= 120:
        numbers: tuple[str, ...] = ("nulls %", "mean", "std", "min", "median", "max")
    else:
        numbers = ("nulls %", "mean", "median")
    table = Table(title=f"{dv.ref} — column statistics", title_justify="left")
    table.add_column("column", no_wrap=True, style="bold")
    table.add_column("kind", no_wrap=True)
    for name in numbers:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("distribution", min_width=12)
    for c in dv.columns:
        if columns and c.name not in columns:
            continue
        s = dv.stats["columns"].get(c.name, {})
        q = s.get("quantiles") or {}
        if "histogram" in s and c.kind == "numeric":
            dist = sparkline(s["histogram"]["counts"])
        else:
            tops = s.get("top_values") or []
            total = s.get("count") or 1
            dist = ", ".join(f"{t['value']} {t['count'] / total:.0%}" for t in tops[:3])
            if len(tops) > 3:
                dist += ", …"
        values = {
            "nulls %": f"{100 * s.get('null_fraction', 0):.1f}",
            "mean": fmt_num(s.get("mean")),
            "std": fmt_num(s.get("std")),
            "min": fmt_num(s.get("min")),
            "median": fmt_num(q.get("0.5")),
            "max": fmt_num(s.get("max")),
        }
        table.add_row(c.name, c.kind, *(values[n] for n in numbers), dist)
    return table


def lineage_tree(graph: LineageGraph) -> Tree:
    """An upstream graph as a tree: artifact ← execution ← its inputs ← ..."""
    from rich.tree import Tree

    def label(artifact_id: int) -> str:
        a = graph.artifacts[artifact_id]
        extra = f" [dim]{a.uri}[/]" if a.uri and a.type == "File" else ""
        return f"[bold]{a.type}[/] {a.name or a.id}{extra}"

    root = Tree(label(graph.root))
    seen: set[int] = set()

    def grow(node: Tree, artifact_id: int) -> None:
        if artifact_id in seen:
            return
        seen.add(artifact_id)
        edges = graph.producers_of if graph.direction == "upstream" else graph.consumers_of
        for execution in edges(artifact_id):
            arrow = "←" if graph.direction == "upstream" else "→"
            branch = node.add(
                f"{arrow} [cyan]{execution.type}[/] [dim]{execution.created_at:%Y-%m-%d %H:%M:%S}"
                f" {_props(execution.properties)}[/]"
            )
            nxt = graph.inputs_of if graph.direction == "upstream" else graph.outputs_of
            for artifact in nxt(execution.id):
                grow(branch.add(label(artifact.id)), artifact.id)

    grow(root, graph.root)
    return root


def _props(props: dict[str, Any]) -> str:
    keep = {
        k: v
        for k, v in props.items()
        if k in {"method", "fractions", "seed", "split", "source", "column", "run_name", "task"}
        and v is not None
    }
    text = " ".join(f"{k}={v}" for k, v in keep.items())
    return text if len(text) < 90 else text[:87] + "…"


def predictions_table(rows: list[dict[str, Any]], predictions: list[Any]) -> Table:
    """Instances sent to an endpoint (a few of their fields) beside what came back."""
    shown: list[str] = [
        c for c in ("tenure", "contract", "monthly_charges") if rows and c in rows[0]
    ]
    if not shown and rows:
        shown = list(rows[0])[:3]
    table = titled_table(
        "Vertex AI :predict over HTTP",
        [*((c, "left") for c in shown), ("classes", "left"), ("scores", "right")],
    )
    for row, pred in zip(rows, predictions, strict=False):
        if isinstance(pred, dict) and "scores" in pred:
            classes = ", ".join(map(str, pred["classes"]))
            scores = ", ".join(f"{p:.3f}" for p in pred["scores"])
        else:
            classes, scores = "", fmt_num(pred.get("value") if isinstance(pred, dict) else pred)
        table.add_row(*(fmt_num(row.get(c)) for c in shown), classes, scores)
    return table
