"""`pmle fairness`: a classifier's metrics by group of a sensitive column, and the gaps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pmle.cli._common import console, handle_errors, open_ws, print_json

if TYPE_CHECKING:
    from pmle.monitoring.fairness_metrics import FairnessReport


@handle_errors
def fairness(
    model: Annotated[str, typer.Argument(help="NAME, NAME@VERSION or NAME@ALIAS (a classifier)")],
    data: Annotated[
        str,
        typer.Option(
            "--data",
            "-d",
            help="dataset (NAME or NAME@V), warehouse table, or .parquet / .csv / .jsonl file",
        ),
    ],
    sensitive: Annotated[
        str, typer.Option("--sensitive", "-s", help="column whose groups are compared")
    ],
    label: Annotated[
        str | None,
        typer.Option("--label", "-l", help="column of true labels (default: the model's target)"),
    ] = None,
    positive: Annotated[
        str | None,
        typer.Option("--positive", help="favourable class (default: a binary model's second)"),
    ] = None,
    slices: Annotated[
        list[str] | None,
        typer.Option(
            "--slice",
            help="group to compare, twice for slice 1 vs slice 2, once for it vs the rest "
            "(default: the two largest groups)",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Measure MODEL's fairness on DATA across the groups of a sensitive column; the report is
    stored with the model version and shown in its card (`pmle automl card`)."""
    report = open_ws().fairness.evaluate(
        model, data, sensitive, label=label, positive=positive, slices=tuple(slices or ())
    )
    if as_json:
        print_json(report.to_dict())
        return
    print_report(report)


def _cell(value: float | None) -> str:
    return "[dim]—[/]" if value is None else f"{value:.3f}"


def print_report(report: FairnessReport) -> None:
    """The report as rich tables: groups, headline gaps, Vertex's slice comparison, notes."""
    from rich.table import Table

    from pmle.cli._render import titled_table
    from pmle.monitoring.fairness_metrics import GROUP_METRICS

    out = console()
    out.print(
        f"[bold]{report.model}[/] on {report.source} — {report.rows:,} rows, sensitive "
        f"[bold]{report.sensitive}[/], label [bold]{report.label}[/], favourable "
        f"[bold]{report.positive}[/]"
    )
    table = titled_table(
        f"by {report.sensitive}",
        [
            ("group", "left"),
            ("rows", "right"),
            ("share", "right"),
            ("selection rate", "right"),
            ("accuracy", "right"),
            ("TPR", "right"),
            ("FPR", "right"),
            ("precision", "right"),
            ("positive labels", "right"),
        ],
    )
    for g in report.groups:
        m = g.metrics
        table.add_row(
            g.group,
            f"{g.count:,}",
            f"{g.share:.1%}",
            *(_cell(m.get(k)) for k in GROUP_METRICS),
        )
    out.print(table)
    head = Table(show_header=False, box=None, title="fairness (fairlearn)", title_justify="left")
    head.add_column(style="bold")
    head.add_column(justify="right")
    for name, value in (
        ("demographic parity difference", report.demographic_parity_difference),
        ("demographic parity ratio", report.demographic_parity_ratio),
        ("equalized odds difference", report.equalized_odds_difference),
        ("equalized odds ratio", report.equalized_odds_ratio),
    ):
        head.add_row(name, _cell(value))
    out.print(head)
    if report.slices:
        bias = Table(
            show_header=False,
            box=None,
            title=f"Vertex AI bias metrics: {report.slices[0]} vs {report.slices[1]}",
            title_justify="left",
        )
        bias.add_column(style="bold")
        bias.add_column(justify="right")
        for name, value in report.slice_metrics.items():
            bias.add_row(name.replace("_", " "), _cell(value))
        out.print(bias)
    for note in report.notes:
        out.print(f"[yellow]note:[/] {note}")
    out.print(f"[dim]stored as report {report.id}[/]")


def register(app: typer.Typer) -> None:
    """Add `fairness` to the `pmle` application."""
    app.command("fairness")(fairness)
