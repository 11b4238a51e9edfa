"""`pmle automl train`: AutoML on a dataset, with a live leaderboard."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pmle.cli._common import console, handle_errors, open_ws, print_json

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

    from pmle.automl.job import AutoMLResult

app = typer.Typer(help="AutoML for tabular data.", no_args_is_help=True)


class LiveBoard:
    """What the live display shows: elapsed time against the budget and the leaderboard."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.started = time.monotonic()
        self.rows: list[dict[str, Any]] = []
        self.status = "preparing the data …"
        self.metric = ""
        self.higher_is_better = True

    def restart(self) -> None:
        """Start the clock now."""
        self.started = time.monotonic()

    def event(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "start":
            self.status = (
                f"{payload['strategy']} validation on {payload['rows']:,} rows × "
                f"{payload['features']} features"
            )
        elif kind == "candidate":
            self.metric = payload["metric"]
            self.higher_is_better = payload["metric"] in {"auc", "auc_pr", "accuracy", "r2"}
            self.rows.append(payload)
        elif kind == "skipped":
            self.status = f"skipped {payload['name']}: {payload['reason']}"
        elif kind == "ensemble":
            self.status = (
                f"ensemble of {', '.join(payload['members'])}: "
                f"{payload['metric']} {payload['score']:.5g}"
            )

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.progress_bar import ProgressBar

        from pmle.cli._render import titled_table

        elapsed = time.monotonic() - self.started
        yield f"[bold]{elapsed:5.1f} s[/] of {self.budget_s:g} s  [dim]{self.status}[/]"
        yield ProgressBar(total=self.budget_s, completed=min(elapsed, self.budget_s), width=50)
        yield ""
        ordered = sorted(self.rows, key=lambda r: r["score"], reverse=self.higher_is_better)
        table = titled_table(
            f"leaderboard ({self.metric or 'score'}, out of fold)",
            [
                ("#", "right"),
                ("candidate", "left"),
                ("family", "left"),
                (self.metric or "score", "right"),
                ("seconds", "right"),
            ],
        )
        for i, r in enumerate(ordered[:12], 1):
            table.add_row(
                str(i), r["name"], r["family"], f"{r['score']:.5f}", f"{r['seconds']:.1f}"
            )
        yield table


@app.command("train")
@handle_errors
def train(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="NAME or NAME@VERSION")],
    target: Annotated[str, typer.Option("--target", "-t", help="the column to predict")],
    model: Annotated[str, typer.Option("--model", "-m", help="register the result as this model")],
    task: Annotated[
        str, typer.Option("--task", help="auto, binary, multiclass or regression")
    ] = "auto",
    budget: Annotated[str, typer.Option("--budget", "-b", help="time budget: 60s, 5m, 1h")] = "60s",
    objective: Annotated[
        str | None,
        typer.Option(
            "--objective",
            help="maximize-au-roc, minimize-log-loss, maximize-au-prc, "
            "minimize-rmse, minimize-mae, minimize-rmsle",
        ),
    ] = None,
    weight_column: Annotated[
        str | None, typer.Option("--weight-column", help="per-row weights")
    ] = None,
    test_dataset: Annotated[
        str | None, typer.Option("--test-dataset", help="measure metrics on this dataset")
    ] = None,
    test_fraction: Annotated[
        float, typer.Option("--test-fraction", help="rows held out for metrics if no test set")
    ] = 0.1,
    alias: Annotated[list[str] | None, typer.Option("--alias", help="aliases to set")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Find the best model for TARGET within the budget and register it."""
    from rich.live import Live

    from pmle.automl import train as automl_train
    from pmle.automl.fit import parse_budget

    ws = open_ws()
    board = LiveBoard(parse_budget(budget))
    out = console()
    kwargs: dict[str, Any] = dict(
        model=model,
        task=task,
        objective=objective,
        budget=budget,
        weight_column=weight_column,
        test_dataset=test_dataset,
        test_fraction=test_fraction,
        seed=seed,
        aliases=tuple(alias or ()),
        on_event=board.event,
    )
    if fmt == "json":
        result = automl_train(ws, dataset, target, **kwargs)
    else:
        with Live(board, console=out, refresh_per_second=4, transient=True):
            result = automl_train(ws, dataset, target, **kwargs)
    summary = summary_of(result)
    if fmt == "json":
        print_json(summary)
        return
    print_summary(out, board, summary)


def summary_of(result: AutoMLResult) -> dict[str, Any]:
    """The facts of an AutoML result worth showing."""
    mv = result.model_version
    return {
        "model": mv.ref,
        "aliases": list(mv.aliases),
        "task": result.fit.problem.task,
        "objective": result.fit.objective.name,
        "seconds": round(result.seconds, 2),
        "cv_score": result.fit.search.ensemble_score,
        "test_metrics": result.test_metrics,
        "test_source": result.test_source,
        "latency": result.latency,
        "leaderboard": result.leaderboard,
        "feature_importance": result.fit.feature_importance,
        "notes": result.fit.problem.notes,
    }


def print_summary(out: Console, board: LiveBoard, s: dict[str, Any]) -> None:
    """The final leaderboard, metrics, latency and feature importance."""
    from pmle.cli._render import titled_table

    out.print(board)
    for note in s["notes"]:
        out.print(f"[dim]note: {note}[/]")
    out.print(
        f"\n[green]✓[/] registered [bold]{s['model']}[/] "
        f"({', '.join(s['aliases'])}) — {s['task']}, {s['objective']}, "
        f"{s['seconds']:.1f} s"
    )
    if s["test_metrics"]:
        metrics = "  ".join(f"{k} [bold]{v:.4f}[/]" for k, v in s["test_metrics"].items())
        out.print(f"  test ({s['test_source']}): {metrics}")
    lat = s["latency"]
    out.print(
        f"  prediction: {lat['latency_1_row_ms']:.2f} ms for one row, "
        f"{lat['latency_per_row_batch_1000_us']:.1f} µs per row in batches"
    )
    imp = list(s["feature_importance"].items())[:10]
    if imp:
        table = titled_table(
            "feature importance", [("feature", "left"), ("share", "right"), ("", "left")]
        )
        top = imp[0][1] or 1.0
        for name, value in imp:
            table.add_row(name, f"{value:.1%}", "█" * max(1, round(20 * value / top)))
        out.print(table)


@app.command("card")
@handle_errors
def card(
    ref: Annotated[str, typer.Argument(help="model NAME[@VERSION|@ALIAS]")],
    html: Annotated[bool, typer.Option("--html", help="print the HTML card")] = False,
) -> None:
    """Print the model card of an AutoML model, with its fairness reports (`pmle fairness`)."""
    from pmle.automl.card import to_html

    text = open_ws().fairness.model_card(ref)
    if html:
        typer.echo(to_html(text))
    else:
        from rich.markdown import Markdown

        console().print(Markdown(text))
