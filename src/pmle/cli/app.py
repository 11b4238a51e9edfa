"""The `pmle` application: global options, top-level commands, and the sub-command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pmle.cli import (
    automl_cmd,
    batch_cmd,
    data_cmd,
    exam_cmd,
    experiments_cmd,
    explain_cmd,
    fairness_cmd,
    features_cmd,
    jobs_cmd,
    lab_cmd,
    models_cmd,
    monitors_cmd,
    pipelines_cmd,
    serving_cmd,
    sql_cmd,
    tune_cmd,
)
from pmle.cli._common import console, handle_errors, open_ws, print_json, state

app = typer.Typer(
    name="pmle",
    help="pmle — the Professional ML Engineer's whole job on one machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data_cmd.app, name="data")
app.add_typer(models_cmd.app, name="models")
app.add_typer(automl_cmd.app, name="automl")
app.add_typer(features_cmd.app, name="features")
app.add_typer(exam_cmd.app, name="exam")
app.add_typer(lab_cmd.app, name="lab")
app.add_typer(experiments_cmd.app, name="experiments")
app.add_typer(jobs_cmd.app, name="jobs")
app.add_typer(tune_cmd.app, name="tune")


def print_tuning(out: Any, result: Any) -> None:
    """The demo's tuning step: its trials, then its best model against the champion."""
    from rich.table import Table

    from pmle.demo import TUNING_EXPERIMENT

    study = result.study
    out.print(
        f"\n[bold]6. Tune[/] a LightGBM: study [bold]{study.name}[/], {study.max_trials} trials, "
        f"{study.parallel} at a time ({study.algorithm}), each a run in experiment "
        f"[bold]{TUNING_EXPERIMENT}[/]"
    )
    table = Table("trial", "val ROC AUC", *[p.name for p in study.parameters], "took")
    for t in sorted(study.trials, key=lambda t: t.number):
        mark = " ★" if t.number == result.best.number else ""
        table.add_row(
            f"{t.number}{mark}",
            f"{t.value:.4f}" if t.value is not None else "—",
            *[
                f"{t.params[p.name]:.4g}" if isinstance(t.params.get(p.name), float)
                else str(t.params.get(p.name))
                for p in study.parameters
            ],
            f"{t.duration_s:.1f} s" if t.duration_s is not None else "—",
        )  # fmt: skip
    out.print(table)
    champion = f"{result.automl_test_auc:.4f}" if result.automl_test_auc is not None else "—"
    out.print(
        f"   best trial {result.best.number} (run #{result.best.run_id}) on churn_test: ROC AUC "
        f"[bold]{result.best_test_auc:.4f}[/] — AutoML champion [bold]{champion}[/]"
    )
    out.print(f"   [dim]pmle tune show {study.name} · pmle experiments show {TUNING_EXPERIMENT}[/]")


def _version(value: bool) -> None:
    if value:
        from pmle import __version__

        typer.echo(f"pmle {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar="PMLE_WORKSPACE",
            help="workspace folder (default: found from the current folder upwards)",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="show the version")
    ] = False,
) -> None:
    state.workspace = workspace
    state.debug = debug


@app.command()
@handle_errors
def init(
    path: Annotated[Path, typer.Argument(help="folder to create the workspace in")] = Path("."),
) -> None:
    """Create a workspace (a .pmle folder) in PATH."""
    from pmle.workspace import init as init_ws

    ws = init_ws(path)
    console().print(f"[green]✓[/] created a pmle workspace in [bold]{ws.root}[/]")


@app.command()
@handle_errors
def info(
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Show where the workspace's stores are and what they hold."""
    from pmle import __version__
    from pmle._util import human_bytes

    data: dict[str, Any] = {"version": __version__, **open_ws().info()}
    if fmt == "json":
        print_json(data)
        return
    from rich.table import Table

    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in data.items():
        text = human_bytes(value) if key == "artifact_bytes" else str(value)
        table.add_row(key.replace("_", " "), text)
    console().print(table)


@app.command()
@handle_errors
def lineage(
    artifact: Annotated[
        str, typer.Argument(help="churn@2, dataset:churn, model:churn@champion or #ID")
    ],
    downstream: Annotated[
        bool,
        typer.Option("--downstream", "-d", help="what was derived from it (default: its sources)"),
    ] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="tree or json")] = "tree",
) -> None:
    """Show what produced an artifact, or what was derived from it."""
    from pmle.cli._render import lineage_tree
    from pmle.refs import resolve_artifact

    ws = open_ws()
    artifact_id = resolve_artifact(ws, artifact)
    graph = ws.lineage.downstream(artifact_id) if downstream else ws.lineage.upstream(artifact_id)
    if fmt == "json":
        print_json(graph.to_dict())
        return
    console().print(lineage_tree(graph))


@app.command()
@handle_errors
def demo(
    budget: Annotated[float, typer.Option("--budget", help="AutoML seconds")] = 20.0,
) -> None:
    """Run the end-to-end demo in a fresh temporary workspace (or --workspace)."""
    import tempfile

    from rich.live import Live

    from pmle.cli._render import lineage_tree, predictions_table, schema_table, stats_table
    from pmle.cli.automl_cmd import LiveBoard, print_summary, summary_of
    from pmle.demo import run_demo
    from pmle.workspace import init as init_ws

    out = console()
    if state.workspace:
        ws = init_ws(state.workspace, exist_ok=True)
    else:
        ws = init_ws(tempfile.mkdtemp(prefix="pmle-demo-"))
    out.rule("[bold]pmle demo[/]")
    out.print(f"workspace: [bold]{ws.root}[/]\n")
    board = LiveBoard(budget)
    live = Live(board, console=out, refresh_per_second=4, transient=True)

    def on_step(name: str, result: Any) -> None:
        if name == "imported":
            out.print(
                f"[bold]1. Import[/] the telco churn table shipped with pmle → "
                f"[bold]{result.ref}[/] ({result.num_rows:,} rows)\n"
            )
            out.print(schema_table(result))
            out.print(stats_table(result, width=out.width))
        elif name == "split":
            out.print("\n[bold]2. Split[/] deterministically (random, 80/10/10, seed 42)")
            for split_name, dv in result.items():
                out.print(f"   {split_name:<10} → [bold]{dv.ref}[/] {dv.num_rows:,} rows")
            out.print(
                f"\n[bold]3. AutoML[/] on churn_train for {budget:g} s "
                "(portfolio → tuning → ensemble), tested on churn_test"
            )
            board.restart()
            live.start()
        elif name == "automl":
            live.stop()
            print_summary(out, board, summary_of(result))
        elif name == "lineage":
            out.print("\n[bold]4. Lineage[/] of the champion model")
            out.print(lineage_tree(result))
        elif name == "sql":
            from pmle.cli.sql_cmd import print_results
            from pmle.demo import SQL_COMPARE, SQL_CREATE

            out.print("\n[bold]5. SQL model[/] (BigQuery ML on DuckDB), compared with the champion")
            out.print(f"   [dim]{SQL_CREATE}[/]")
            out.print(f"   [dim]{SQL_COMPARE}[/]")
            print_results(out, result)
        elif name == "tuning":
            print_tuning(out, result)
        elif name == "pipeline":
            from pmle.cli.pipelines_cmd import dag_tree
            from pmle.demo import PIPELINE_MODEL

            out.print(
                f"\n[bold]7. Pipeline[/] [bold]{result.name}[/] (Kubeflow Pipelines v2, run "
                f"locally): validate {result.params['dataset']} against "
                f"{result.params['baseline']} → AutoML → gate on {PIPELINE_MODEL}@champion → "
                f"register → deploy to endpoint {result.params['endpoint']}"
            )
            out.print(dag_tree(result))
            seconds = (result.ended_at - result.started_at).total_seconds()
            out.print(f"   run {result.id}: {result.state} in {seconds:.1f} s")
        elif name == "pipeline_cached":
            leaves = [t for t in result.tasks if not t["isGroup"]]
            hits = sum(1 for t in leaves if t["cacheHit"])
            seconds = (result.ended_at - result.started_at).total_seconds()
            out.print(
                f"\n   Run again with the same parameters (run {result.id}): {hits} of "
                f"{len(leaves)} tasks from the cache, {result.state} in {seconds:.2f} s"
            )
        elif name == "pipeline_lineage":
            model, graph = result
            out.print(f"\n   Lineage of [bold]{model.ref}[/], registered by the pipeline")
            out.print(lineage_tree(graph))
        elif name == "server":
            out.print(
                f"\n[bold]8. Serve[/] churn@champion on endpoint [bold]churn[/] at {result} "
                "(Vertex AI, KServe V1 and V2 routes)"
            )
        elif name == "predictions":
            out.print(predictions_table(*result))
        elif name == "canary":
            out.print(
                f"\n[bold]9. Canary[/]: a plain LightGBM challenger deployed as id "
                f"{result.challenger_id} at 10 % traffic; {sum(result.served_by.values())} "
                "requests were answered by:"
            )
            for dm, n in sorted(result.served_by.items()):
                role = "champion" if dm == result.champion_id else "challenger"
                out.print(f"   deployed model {dm} ({role}): {n}")
        elif name == "monitor":
            out.print(
                f"\n[bold]10. Monitor[/] [bold]{result.name}[/] on endpoint {result.endpoint}: "
                f"skew against {result.baseline['source']} and drift between windows, "
                f"{len(result.features)} features, threshold {result.config['default_threshold']:g}"
            )
        elif name in {"quiet", "drifted"}:
            from pmle.cli._monitor_render import print_run
            from pmle.demo import SHIFTED

            out.print(
                "\n   Window 1: ordinary traffic (the first half of churn_test)"
                if name == "quiet"
                else f"\n   Window 2: the other half with {' and '.join(SHIFTED)} shifted"
            )
            print_run(out, result.to_dict(), limit=6)
        elif name == "explanation":
            from pmle.cli.explain_cmd import print_explanation

            out.print("\n[bold]11. Explain[/] one prediction of churn@champion")
            print_explanation(out, result.explanation, result.explained)
        elif name == "features":
            from pmle.demo_features import FEATURE_ENDPOINT, VIEW

            out.print(
                f"\n[bold]12. Features[/]: billing events ({result.events.num_rows:,} rows) as "
                f"feature view [bold]{VIEW}[/]; a point-in-time training set of "
                f"{result.training_rows:,} labelled customers ({result.leaked} values from "
                f"after their label date); {result.model} trained on it and deployed on "
                f"[bold]{FEATURE_ENDPOINT}[/] with online lookup"
            )
            looked = ", ".join(f"{k}={v:.4g}" for k, v in result.looked_up.items())
            out.print(f"   request {result.request} → looked up {looked}")
            served = result.prediction
            if isinstance(served, dict) and "scores" in served:
                served = [round(p, 4) for p in served["scores"]]
            out.print(
                f"   served scores {served}; the model called directly with the same "
                f"features: {[round(p, 4) for p in result.direct]}"
            )

    try:
        run_demo(ws, on_step, budget_s=budget, on_automl_event=board.event)
    finally:
        live.stop()
    query = "SELECT contract, avg((churn = 'Yes')::INT) AS churn_rate FROM churn GROUP BY 1"
    out.print(
        f"\n[green]✓[/] done. Explore it: [bold]export PMLE_WORKSPACE={ws.root}[/], then "
        f'[bold]pmle data list[/], [bold]pmle models show churn[/], [bold]pmle sql "{query}"[/], '
        "[bold]pmle pipelines list[/], [bold]pmle endpoints describe churn[/], "
        "[bold]pmle monitors show churn-drift[/], [bold]pmle features list[/], "
        "[bold]pmle serve[/] (the web console at http://127.0.0.1:8080/; "
        "[bold]pmle tokens create me[/] to sign in and act)"
    )


sql_cmd.register(app)
serving_cmd.register(app)
batch_cmd.register(app)
explain_cmd.register(app)
fairness_cmd.register(app)
monitors_cmd.register(app)
pipelines_cmd.register(app)


def run() -> None:
    """Run the application."""
    app()
