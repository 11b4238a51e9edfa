"""`pmle monitors …` and `pmle scheduler`: skew, drift, attribution and performance
monitoring with alerts and reports; the scheduler also starts pipeline schedules' runs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pmle._util import utcnow
from pmle.cli._common import console, handle_errors, open_ws, print_json

if TYPE_CHECKING:
    from pmle.monitoring.monitors import MonitorInfo
    from pmle.pipelines.schedules import Launch

monitors_app = typer.Typer(
    help="Model monitors: training-serving skew, drift, attribution drift, performance, alerts.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="monitor name")]
#: Metric names short enough for an 80-column table.
_SHORT_METRICS = {
    "jensen_shannon_divergence": "JS div",
    "l_infinity": "L-inf",
    "attribution_share_change": "share chg",
}
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _thresholds(items: list[str] | None) -> dict[str, float]:
    """`FEATURE=VALUE` items → {feature: value}."""
    from pmle.errors import InvalidInput

    out: dict[str, float] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise InvalidInput(f"cannot read threshold {item!r}", hint="write it as FEATURE=0.2")
    return out


def _sinks(webhook: list[str] | None, log: list[Path] | None, email: list[str] | None) -> list:
    sinks: list[dict[str, Any]] = [{"type": "webhook", "url": u} for u in webhook or []]
    sinks += [{"type": "log", "path": str(p)} for p in log or []]
    if email:
        sinks.append({"type": "email", "to": list(email)})
    return sinks


def _when(text: str | None) -> datetime | None:
    from pmle.errors import InvalidInput

    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"cannot read the time {text!r}", hint="ISO 8601, e.g. 2026-11-27T12:00")


def _print_monitor(info: MonitorInfo) -> None:
    from pmle.cli._render import titled_table

    d = info.to_dict()
    out = console()
    target = f"endpoint {info.endpoint}" if info.endpoint else "data given to each run"
    out.print(f"[bold]{info.name}[/]  {info.model} — {target}")
    out.print(
        f"objectives {', '.join(d['objectives'])}; sampling {d['samplingRate']:.0%}; "
        f"schedule {info.schedule or 'on demand'}"
        + (f" (next {d['nextRunTime']})" if d["nextRunTime"] else "")
    )
    out.print(f"baseline: {d['baselineSource']}; alerts to: {', '.join(d['sinks']) or 'none'}")
    table = titled_table(
        "features", [("feature", "left"), ("kind", "left"), ("threshold", "right")]
    )
    for feature, kind in info.features.items():
        threshold = d["thresholds"].get(feature, d["defaultThreshold"])
        table.add_row(feature, kind, f"{threshold:g}")
    out.print(table)


@monitors_app.command("create")
@handle_errors
def create(
    name: NameArg,
    endpoint: Annotated[str | None, typer.Option(help="watch this endpoint's request log")] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="MODEL[@V|alias]: with --endpoint, which deployed model (default: "
            "the one with the most traffic); alone, a monitor for batch data"
        ),
    ] = None,
    feature: Annotated[
        list[str] | None, typer.Option(help="monitor only these inputs (repeatable)")
    ] = None,
    objective: Annotated[
        list[str] | None,
        typer.Option(
            help="skew, drift, attribution_skew, attribution_drift (repeatable; "
            "default skew and drift)"
        ),
    ] = None,
    threshold: Annotated[
        list[str] | None, typer.Option(help="FEATURE=VALUE, a per-feature threshold in [0, 1)")
    ] = None,
    default_threshold: Annotated[float, typer.Option(help="for every other feature")] = 0.3,
    sampling_rate: Annotated[float, typer.Option(help="share of logged rows analysed")] = 1.0,
    schedule: Annotated[
        str, typer.Option(help="cron expression or 'every 6h'; 'none' for on demand only")
    ] = "every 24h",
    webhook: Annotated[list[str] | None, typer.Option(help="POST alerts to this URL")] = None,
    log: Annotated[list[Path] | None, typer.Option(help="append alerts to this file")] = None,
    email: Annotated[
        list[str] | None, typer.Option(help="e-mail alerts (needs PMLE_SMTP_HOST)")
    ] = None,
    id_field: Annotated[
        str | None, typer.Option(help="the instance field that labels refer to")
    ] = None,
    performance_threshold: Annotated[
        float, typer.Option(help="relative metric drop vs training that alerts")
    ] = 0.05,
    baseline: Annotated[
        str | None, typer.Option(help="baseline data (default: the training dataset)")
    ] = None,
    description: Annotated[str, typer.Option(help="free text")] = "",
) -> None:
    """Create a monitor; its baseline histograms are computed now, once."""
    info = open_ws().monitors.create(
        name,
        endpoint=endpoint,
        model=model,
        features=feature or None,
        objectives=objective or None,
        thresholds=_thresholds(threshold),
        default_threshold=default_threshold,
        sampling_rate=sampling_rate,
        schedule=None if schedule.strip().lower() == "none" else schedule,
        sinks=_sinks(webhook, log, email),
        id_field=id_field,
        performance_threshold=performance_threshold,
        baseline=baseline,
        description=description,
    )
    console().print(
        f"created monitor [bold]{info.name}[/] on {info.model} "
        f"({len(info.features)} features, baseline {info.baseline['source']})"
    )


@monitors_app.command("list")
@handle_errors
def list_(as_json: JsonOpt = False) -> None:
    """List monitors."""
    items = open_ws().monitors.list()
    if as_json:
        print_json([m.to_dict() for m in items])
        return
    from pmle.cli._render import titled_table

    out = console()
    if not items:
        out.print("no monitors yet — [bold]pmle monitors create NAME --endpoint E[/]")
        return
    table = titled_table(
        "monitors",
        [("name", "left"), ("model", "left"), ("target", "left"), ("schedule", "left")],
    )
    for m in items:
        table.add_row(m.name, m.model, m.endpoint or "batch data", m.schedule or "on demand")
    out.print(table)


@monitors_app.command("describe")
@handle_errors
def describe(name: NameArg, as_json: JsonOpt = False) -> None:
    """A monitor's configuration and features."""
    info = open_ws().monitors.get(name)
    if as_json:
        print_json(info.to_dict())
        return
    _print_monitor(info)


@monitors_app.command("update")
@handle_errors
def update(
    name: NameArg,
    threshold: Annotated[list[str] | None, typer.Option(help="FEATURE=VALUE")] = None,
    default_threshold: Annotated[float | None, typer.Option()] = None,
    sampling_rate: Annotated[float | None, typer.Option()] = None,
    clear_threshold: Annotated[
        list[str] | None, typer.Option(help="FEATURE back to the default threshold")
    ] = None,
    schedule: Annotated[str | None, typer.Option(help="cron, 'every 6h' or 'none'")] = None,
    performance_threshold: Annotated[float | None, typer.Option()] = None,
    webhook: Annotated[list[str] | None, typer.Option(help="alert sinks: replace them")] = None,
    log: Annotated[list[Path] | None, typer.Option(help="alert sinks: replace them")] = None,
    email: Annotated[list[str] | None, typer.Option(help="alert sinks: replace them")] = None,
    no_sinks: Annotated[bool, typer.Option("--no-sinks", help="remove every sink")] = False,
    description: Annotated[str | None, typer.Option(help="free text")] = None,
) -> None:
    """Change thresholds, sampling, schedule, sinks (the baseline stays)."""
    clear = schedule is not None and schedule.strip().lower() == "none"
    sinks = _sinks(webhook, log, email)
    info = open_ws().monitors.update(
        name,
        thresholds=_thresholds(threshold),
        clear_thresholds=clear_threshold,
        default_threshold=default_threshold,
        sampling_rate=sampling_rate,
        schedule=None if clear else schedule,
        clear_schedule=clear,
        sinks=[] if no_sinks else (sinks or None),
        performance_threshold=performance_threshold,
        description=description,
    )
    _print_monitor(info)


@monitors_app.command("delete")
@handle_errors
def delete(name: NameArg) -> None:
    """Delete a monitor with its runs, alerts, labels and reports."""
    open_ws().monitors.delete(name)
    console().print(f"deleted monitor [bold]{name}[/]")


@monitors_app.command("run")
@handle_errors
def run(
    name: NameArg,
    data: Annotated[
        str | None, typer.Option(help="check this dataset, table or file instead of the log")
    ] = None,
    start: Annotated[str | None, typer.Option(help="window start (ISO time)")] = None,
    end: Annotated[str | None, typer.Option(help="window end (ISO time; default now)")] = None,
    settle: Annotated[
        float | None,
        typer.Option(
            help="the log window ends this many seconds ago, 10 by default (servers write "
            "their logs about a second after answering; later rows go to the next run)"
        ),
    ] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="skip the HTML report")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a monitor now: distances, performance and alerts (exit status 3 on alerts)."""
    from pmle.errors import InvalidInput

    if settle is not None and settle < 0:
        raise InvalidInput("--settle must be 0 or more seconds")
    result = open_ws().monitors.run(
        name,
        data=data,
        start=_when(start),
        end=_when(end),
        report=not no_report,
        settle_s=settle,
    )
    if as_json:
        print_json(result.to_dict())
    else:
        from pmle.cli._monitor_render import print_run

        print_run(console(), result.to_dict())
    if result.alerts:
        raise typer.Exit(3)


@monitors_app.command("runs")
@handle_errors
def runs(
    name: NameArg,
    limit: Annotated[int, typer.Option(help="newest N")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """A monitor's runs, newest first."""
    items = open_ws().monitors.runs(name, limit=limit)
    if as_json:
        print_json([r.to_dict() for r in items])
        return
    from pmle.cli._render import titled_table

    table = titled_table(
        f"runs of {name}",
        [
            ("run", "right"),
            ("started", "left"),
            ("state", "left"),
            ("rows", "right"),
            ("alerts", "right"),
            ("report", "left"),
        ],
    )
    for r in items:
        table.add_row(
            str(r.id),
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.state if r.state != "FAILED" else f"[red]FAILED[/] {r.error or ''}",
            f"{r.rows:,}",
            str(len(r.alerts)),
            r.report or "",
        )
    console().print(table)


@monitors_app.command("show")
@handle_errors
def show(
    name: NameArg,
    run_id: Annotated[int | None, typer.Argument(help="run id (default: the newest)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One run in full: distances per feature, performance, alerts, report path."""
    from pmle.errors import NotFound

    ws = open_ws()
    if run_id is None:
        newest = ws.monitors.runs(name, limit=1)
        if not newest:
            raise NotFound(f"monitor {name!r} has not run yet", hint=f"pmle monitors run {name}")
        result = newest[0]
    else:
        result = ws.monitors.get_run(name, run_id)
    if as_json:
        print_json(result.to_dict())
        return
    from pmle.cli._monitor_render import print_run

    print_run(console(), result.to_dict())


@monitors_app.command("alerts")
@handle_errors
def alerts(
    name: Annotated[str | None, typer.Argument(help="monitor (default: all)")] = None,
    limit: Annotated[int, typer.Option(help="newest N")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Recorded alerts, newest first."""
    items = open_ws().monitors.alerts(name, limit=limit)
    if as_json:
        print_json(items)
        return
    from pmle.cli._render import titled_table

    out = console()
    if not items:
        out.print("no alerts")
        return
    one = name is not None
    columns = [("UTC", "left"), ("monitor", "left"), ("objective", "left")]
    columns += [("feature", "left"), ("metric", "left"), ("value", "right")]
    columns += [("threshold", "right"), ("sent", "left")]
    table = titled_table(f"alerts of {name}" if one else "alerts", columns)
    if one:
        table.columns.pop(1)
    for column in table.columns:  # names and times stay whole
        column.no_wrap = column.header != "sent"
    for a in items:
        failed = [d["sink"] for d in a["deliveries"] if not d["ok"]]
        delivered = f"[red]failed: {', '.join(failed)}[/]" if failed else "ok"
        cells = [
            (a["at"] or "")[5:16].replace("T", " "),  # MM-DD HH:MM
            a["monitor"],
            a["objective"],
            a["feature"],
            _SHORT_METRICS.get(a["metric"], a["metric"]),
            f"{a['value']:.4f}",
            f"{a['threshold']:.4g}",
            delivered if a["deliveries"] else "—",
        ]
        if one:
            cells.pop(1)
        table.add_row(*cells)
    out.print(table)


@monitors_app.command("labels")
@handle_errors
def labels(
    name: NameArg,
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSONL with ids and labels")],
    id_column: Annotated[str, typer.Option(help="column of prediction ids")] = "id",
    label_column: Annotated[str, typer.Option(help="column of true labels")] = "label",
) -> None:
    """Add ground truth for logged predictions, joined by id; the next run scores them."""
    n = open_ws().monitors.add_labels(name, file, id_column=id_column, label_column=label_column)
    console().print(f"stored {n:,} label(s) for monitor [bold]{name}[/]")


def scheduler(
    once: Annotated[
        bool,
        typer.Option("--once", help="run what is due, wait for the runs it started, then exit"),
    ] = False,
    poll: Annotated[float, typer.Option(help="seconds between checks")] = 30.0,
) -> None:
    """Run scheduled monitors and start pipeline schedules' runs when due (Ctrl-C to stop)."""
    import time

    ws = open_ws()
    out = console()
    schedules = ws.pipeline_schedules
    out.print(
        f"scheduler on {ws.root}: {len(ws.monitors.list())} monitor(s), "
        f"{len(schedules.list('ACTIVE'))} active pipeline schedule(s)"
    )
    started: list[Launch] = []
    while True:
        try:
            runs = ws.monitors.run_due()
        except Exception as exc:  # e.g. the store briefly locked: try again next time
            out.print(f"[yellow]warning[/]: could not check the monitors: {exc}")
            runs = []
        for r in runs:
            state = r.state if r.state != "FAILED" else f"[red]FAILED[/] {r.error or ''}"
            out.print(
                f"{r.started_at:%Y-%m-%d %H:%M:%S} {r.monitor} run {r.id}: {state}, "
                f"{r.rows:,} rows, {len(r.alerts)} alert(s)"
            )
            for a in r.alerts:
                out.print(f"  [yellow]{a['message']}[/]")
        try:  # after the monitors: their new alerts start runs now
            launched = schedules.tick()
        except Exception as exc:
            out.print(f"[yellow]warning[/]: could not check the pipeline schedules: {exc}")
            launched = []
        for launch in launched:
            out.print(
                f"{utcnow():%Y-%m-%d %H:%M:%S} pipeline schedule {launch.schedule}: "
                f"starting a run ({launch.trigger})"
            )
        started = _report_finished([*started, *launched], wait=once)
        if once:
            return
        try:
            time.sleep(max(0.5, poll))
        except KeyboardInterrupt:
            if started:
                out.print(f"waiting for {len(started)} pipeline run(s) to finish")
            return


def _report_finished(launches: list[Launch], *, wait: bool) -> list[Launch]:
    """Print the launches that are done (all of them, waiting, with `wait`); the rest."""
    out = console()
    left = []
    for launch in launches:
        if wait:
            launch.wait()
        if not launch.done:
            left.append(launch)
            continue
        run = launch.run
        if launch.error is not None:
            outcome = f"[red]failed[/]: {launch.error}"
        else:
            colour = "green" if getattr(run, "state", "") == "SUCCEEDED" else "red"
            outcome = f"run {getattr(run, 'id', '?')} [{colour}]{getattr(run, 'state', '')}[/]"
        out.print(f"{utcnow():%Y-%m-%d %H:%M:%S} pipeline schedule {launch.schedule}: {outcome}")
    return left


def register(app: typer.Typer) -> None:
    """Add the commands to the main CLI."""
    app.add_typer(monitors_app, name="monitors")
    app.command("scheduler")(handle_errors(scheduler))
