"""`pmle tune …`: hyperparameter tuning studies — create one over a search space, run (or
resume) its trials as a Python function or as training jobs, see the trials, register the
best trial's model."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pmle.cli._common import console, handle_errors, open_ws, print_json

if TYPE_CHECKING:
    from pmle.training.tuning import Study, TrialInfo

app = typer.Typer(
    help="Tuning studies (Vizier-like, on Optuna): search spaces, trials as runs, early "
    "stopping, parallel and resumable.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="study name")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
STATE_COLOUR = {"COMPLETE": "green", "PRUNED": "yellow", "FAIL": "red", "RUNNING": "cyan"}


def _space(text: str) -> dict[str, Any]:
    """A search space from a YAML / JSON file, or inline JSON / YAML."""
    import yaml

    from pmle.errors import InvalidInput

    path = Path(text)
    source = path.read_text(encoding="utf-8") if path.is_file() else text
    try:
        space = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"cannot read the search space: {exc}") from None
    if not isinstance(space, dict):
        raise InvalidInput(
            "the search space is a mapping of parameters",
            hint='e.g. {"lr": {"type": "double", "min": 0.001, "max": 0.3, "scale": "log"}}',
        )
    return space


def _function(spec: str) -> Any:
    """`module:function` or `file.py:function`."""
    import importlib
    import importlib.util

    from pmle.errors import InvalidInput

    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise InvalidInput(
            f"cannot read the function {spec!r}", hint="module:function or file.py:function"
        )
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise InvalidInput(f"no file {where}")
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise InvalidInput(f"cannot import {where}: {exc}") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise InvalidInput(f"{where} has no function {name!r}")
    return function


def _value(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.6g}"


def _param(value: Any) -> str:
    return _value(value) if isinstance(value, float) else str(value)


def _trial_line(info: TrialInfo) -> str:
    colour = STATE_COLOUR.get(info.state, "white")
    params = ", ".join(
        f"{k}={_value(v) if isinstance(v, float) else v}" for k, v in info.params.items()
    )
    error = f" [dim]{info.error}[/]" if info.error else ""
    value = _value(info.value)
    return f"trial {info.number:>3} [{colour}]{info.state:<8}[/] {value:>10}  {params}{error}"


@app.command("create")
@handle_errors
def create(
    name: NameArg,
    space: Annotated[str, typer.Option("--space", help="YAML / JSON file, or inline JSON")],
    metric: Annotated[str, typer.Option("--metric", help="the metric to optimize")],
    goal: Annotated[str, typer.Option("--goal", help="maximize | minimize")] = "maximize",
    algorithm: Annotated[
        str, typer.Option("--algorithm", help="bayesian | random | grid")
    ] = "bayesian",
    max_trials: Annotated[int, typer.Option("--max-trials")] = 20,
    parallel: Annotated[int, typer.Option("--parallel", help="trials at once")] = 1,
    early_stopping: Annotated[
        str | None, typer.Option("--early-stopping", help="median: stop poor trials early")
    ] = None,
    experiment: Annotated[str | None, typer.Option("--experiment", help="default: NAME")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
) -> None:
    """Create a study over a search space."""
    with open_ws() as ws:
        study = ws.tuning.create_study(
            name,
            _space(space),
            metric=metric,
            goal=goal,
            algorithm=algorithm,
            max_trials=max_trials,
            parallel=parallel,
            early_stopping=early_stopping,
            experiment=experiment,
            seed=seed,
        )
    console().print(
        f"[green]✓[/] study {study.name}: {study.goal} {study.metric} over "
        f"{len(study.parameters)} parameters, {study.max_trials} trials ({study.algorithm})"
    )


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@handle_errors
def run(
    ctx: typer.Context,
    name: NameArg,
    job: Annotated[
        str | None, typer.Option("--job", help="each trial runs this training script / module")
    ] = None,
    function: Annotated[
        str | None, typer.Option("--function", help="module:function or file.py:function")
    ] = None,
    runner: Annotated[str, typer.Option("--runner", help="local | ray")] = "local",
    ray_address: Annotated[str | None, typer.Option("--ray-address")] = None,
    data: Annotated[
        str | None, typer.Option("--data", help="dataset version for job trials")
    ] = None,
    cpus: Annotated[int | None, typer.Option("--cpus", help="CPUs per job trial")] = None,
    memory: Annotated[str | None, typer.Option("--memory", help="memory per job trial")] = None,
) -> None:
    """Run the study's trials (resuming it): a function, or a training job given
    --PARAM=VALUE arguments (arguments after -- go to the job too)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pmle.errors import InvalidInput

    if (job is None) == (function is None):
        raise InvalidInput("give --job SCRIPT or --function module:function")
    out = console()
    with open_ws() as ws:
        study = ws.tuning.study(name)
        done = study.finished
        if done >= study.max_trials:
            out.print(f"study {name} already has its {study.max_trials} trials")
            _print_best(study)
            return
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console(stderr=True), transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task(name, total=study.max_trials, completed=done)

            def on_trial(info: TrialInfo) -> None:
                progress.console.print(_trial_line(info))
                if info.error != "interrupted":
                    progress.advance(task)

            if function is not None:
                study.optimize(
                    _function(function), runner=runner, ray_address=ray_address, on_trial=on_trial
                )
            else:
                assert job is not None
                study.optimize_job(
                    job, list(ctx.args), data=data, cpus=cpus, memory=memory,
                    runner=runner, ray_address=ray_address, on_trial=on_trial,
                )  # fmt: skip
        _print_best(study)


def _print_best(study: Study) -> None:
    from pmle.errors import NotFound

    try:
        best = study.best_trial
    except NotFound:
        console().print("[yellow]no trial completed[/]")
        return
    params = ", ".join(f"{k}={v}" for k, v in best.params.items())
    console().print(
        f"best: trial {best.number}, {study.metric} = {_value(best.value)} ({params}); "
        f"run #{best.run_id}"
    )


@app.command("list")
@handle_errors
def list_(json_out: JsonOpt = False) -> None:
    """Studies with their progress and best value."""
    from rich.table import Table

    with open_ws() as ws:
        studies = ws.tuning.studies()
        rows = [s.to_dict() for s in studies]
    if json_out:
        print_json(rows)
        return
    if not rows:
        console().print("no tuning studies yet — pmle tune create NAME --space … --metric …")
        return
    table = Table("study", "metric", "goal", "algorithm", "trials", "best")
    for r in rows:
        best = r["best"]
        table.add_row(
            r["name"], r["metric"], r["goal"], r["algorithm"], f"{r['finished']}/{r['max_trials']}",
            _value(best["value"]) if best else "—",
        )  # fmt: skip
    console().print(table)


@app.command("show")
@handle_errors
def show(name: NameArg, json_out: JsonOpt = False) -> None:
    """A study's settings and its trials."""
    from rich.table import Table

    with open_ws() as ws:
        study = ws.tuning.study(name)
        trials = study.trials
        summary = study.to_dict()
    if json_out:
        print_json({**summary, "trial_list": [t.to_dict() for t in trials]})
        return
    out = console()
    out.print(
        f"[bold]{study.name}[/]: {study.goal} {study.metric}, {study.algorithm}, "
        f"{summary['finished']}/{study.max_trials} trials, {study.parallel} at once"
        + (f", early stopping {study.early_stopping}" if study.early_stopping else "")
    )
    keys = [p.name for p in study.parameters]
    table = Table("trial", "state", study.metric, *keys, "took", "run")
    for t in trials:
        colour = STATE_COLOUR.get(t.state, "white")
        table.add_row(
            str(t.number), f"[{colour}]{t.state}[/]", _value(t.value),
            *[_param(t.params.get(k, "—")) for k in keys],
            f"{t.duration_s:.1f} s" if t.duration_s is not None else "—",
            f"#{t.run_id}" if t.run_id else "—",
        )  # fmt: skip
    out.print(table)
    _print_best(study)


@app.command("register")
@handle_errors
def register(
    name: NameArg, model: Annotated[str, typer.Argument(help="model name to register as")]
) -> None:
    """Register the best trial's model as a new model version."""
    with open_ws() as ws:
        ref = ws.tuning.study(name).register_best(model)
    console().print(f"[green]✓[/] registered {ref}")
