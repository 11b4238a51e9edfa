"""`pmle models …`: list, show, alias and delete registered models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pmle.cli._common import console, fail, handle_errors, open_ws, print_json

if TYPE_CHECKING:
    from pmle.models.registry import ModelVersion

app = typer.Typer(
    help="The model registry: versions and aliases (NAME, NAME@VERSION, NAME@ALIAS).",
    no_args_is_help=True,
)

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table or json")]


def _check_format(fmt: str) -> None:
    if fmt not in {"table", "json"}:
        from pmle.errors import InvalidInput

        raise InvalidInput(f"unknown output format {fmt!r}", hint="use table or json")


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M}"


def _aliases(aliases: Any) -> str:
    return ", ".join(aliases) if aliases else "[dim]—[/]"


@app.command("list")
@handle_errors
def list_(fmt: FormatOpt = "table") -> None:
    """List models with their version count, `default` version and aliases."""
    _check_format(fmt)
    items = open_ws().models.list()
    if fmt == "json":
        print_json([m.to_dict() for m in items])
        return
    from pmle.cli._render import titled_table

    out = console()
    if not items:
        out.print("no models yet — register one with [bold]ws.models.register(NAME, model)[/]")
        return
    table = titled_table(
        "models",
        [
            ("name", "left"),
            ("versions", "right"),
            ("default", "right"),
            ("latest", "right"),
            ("aliases", "left"),
            ("description", "left"),
        ],
    )
    for m in items:
        table.add_row(
            m.name,
            str(m.version_count),
            f"@{m.default_version}" if m.default_version else "—",
            f"@{m.latest_version}" if m.latest_version else "—",
            _aliases([f"{a}→{v}" for a, v in m.aliases.items() if a != "default"]),
            m.description,
        )
    out.print(table)


@app.command("show")
@handle_errors
def show(
    ref: Annotated[str, typer.Argument(help="NAME (the model and its versions) or NAME@VERSION")],
    fmt: FormatOpt = "table",
) -> None:
    """Show a model's versions, or one version's signature, metrics and aliases."""
    from pmle._util import parse_ref

    _check_format(fmt)
    ws = open_ws()
    parsed = parse_ref(ref)
    if parsed.version is None and parsed.alias is None:
        versions = ws.models.versions(parsed.name)
        summary = next(m for m in ws.models.list() if m.name == parsed.name)
        if fmt == "json":
            print_json({**summary.to_dict(), "versions": [_brief(v) for v in versions]})
            return
        _print_versions(summary.name, versions)
        return
    mv = ws.models.get(ref)
    if fmt == "json":
        print_json(mv.to_dict())
        return
    _print_version(mv)


def _brief(mv: ModelVersion) -> dict[str, Any]:
    d = mv.to_dict()
    d.pop("manifest")
    return d


def _print_versions(name: str, versions: list[ModelVersion]) -> None:
    from pmle.cli._render import titled_table

    table = titled_table(
        f"{name} — {len(versions)} version(s)",
        [
            ("version", "right"),
            ("aliases", "left"),
            ("flavor", "left"),
            ("task", "left"),
            ("metrics", "left"),
            ("created", "left"),
            ("description", "left"),
        ],
    )
    for v in versions:
        table.add_row(
            f"@{v.version}",
            _aliases(v.aliases),
            v.flavor,
            v.task or "—",
            _metrics_line(v.manifest.get("metrics") or {}),
            _when(v.created_at),
            v.description,
        )
    console().print(table)


def _metrics_line(metrics: dict[str, Any]) -> str:
    from pmle.cli._render import fmt_num

    text = " ".join(f"{k}={fmt_num(v)}" for k, v in metrics.items())
    return text if len(text) < 60 else text[:57] + "…"


def _print_version(mv: ModelVersion) -> None:
    from rich.table import Table

    from pmle.cli._render import fmt_num

    out = console()
    m = mv.manifest
    head = Table(show_header=False, box=None, title=mv.ref, title_justify="left")
    head.add_column(style="bold")
    head.add_column()
    classes = m.get("classes")
    for key, value in (
        ("aliases", _aliases(mv.aliases)),
        ("flavor", mv.flavor),
        ("task", mv.task or "—"),
        ("classes", ", ".join(map(str, classes)) if classes else "—"),
        ("created", _when(mv.created_at)),
        ("description", mv.description or "—"),
        ("libraries", " ".join(f"{k} {v}" for k, v in (m.get("libraries") or {}).items())),
        ("artifact", mv.tree_key[:12]),
        ("lineage id", str(mv.lineage_artifact_id or "—")),
    ):
        head.add_row(key, value)
    out.print(head)
    sig = Table(title="signature", title_justify="left")
    sig.add_column("input")
    sig.add_column("type")
    sig.add_column("categories", style="dim")
    for c in (m.get("signature") or {}).get("inputs", []):
        cats = c.get("categories")
        shown = (
            "" if cats is None else ", ".join(map(str, cats[:6])) + (" …" if len(cats) > 6 else "")
        )
        sig.add_row(c["name"], c["type"], shown)
    out.print(sig)
    metrics = m.get("metrics") or {}
    if metrics:
        mt = Table(title="metrics", title_justify="left")
        mt.add_column("metric")
        mt.add_column("value", justify="right")
        for k, v in metrics.items():
            mt.add_row(k, fmt_num(v))
        out.print(mt)


@app.command("alias")
@handle_errors
def alias(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION (or NAME with --delete)")],
    name: Annotated[str, typer.Argument(metavar="ALIAS", help="alias, e.g. champion")],
    delete: Annotated[
        bool, typer.Option("--delete", help="remove the alias from model REF")
    ] = False,
) -> None:
    """Point ALIAS at a version (moving it), or remove it with --delete."""
    ws = open_ws()
    if delete:
        ws.models.delete_alias(ref, name)
        console().print(f"[green]✓[/] removed alias [bold]{name}[/] from model {ref}")
        return
    mv = ws.models.set_alias(ref, name)
    console().print(f"[green]✓[/] [bold]{mv.name}@{name}[/] → {mv.ref}")


@app.command("delete")
@handle_errors
def delete(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION, or NAME for the whole model")],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="confirm deleting a whole model")
    ] = False,
) -> None:
    """Delete a version, or (with --yes) a whole model with all its versions."""
    ws = open_ws()
    if "@" in ref:
        mv = ws.models.delete_version(ref)
        console().print(f"[green]✓[/] deleted {mv.ref}")
        return
    from pmle._util import parse_ref

    name = parse_ref(ref).name
    if not yes:
        count = len(ws.models.versions(name))  # NotFound first for an unknown model
        raise fail(
            f"deleting model {name!r} removes all {count} of its version(s)",
            hint=f"add --yes to confirm: pmle models delete {name} --yes",
        )
    count = ws.models.delete_model(name)
    console().print(f"[green]✓[/] deleted model [bold]{name}[/] and {count} version(s)")


@app.command("export-mlflow")
@handle_errors
def export_mlflow(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION or NAME@ALIAS")],
    path: Annotated[Path, typer.Argument(help="the MLflow model folder to write (new)")],
) -> None:
    """Write a model version in MLflow's model format (LightGBM, XGBoost, scikit-learn)."""
    from pmle.models.mlflow_models import export_mlflow as export

    with open_ws() as ws:
        written = export(ws, ref, path)
    console().print(f"[green]✓[/] {ref} written as an MLflow model at {written}")


@app.command("import-mlflow")
@handle_errors
def import_mlflow(
    path: Annotated[Path, typer.Argument(help="an MLflow model folder (with MLmodel)")],
    name: Annotated[str, typer.Argument(help="the model to register it as")],
    allow_pickle: Annotated[
        bool,
        typer.Option("--allow-pickle", help="load a pickled model: only for files you trust"),
    ] = False,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
) -> None:
    """Register an MLflow model (lightgbm, xgboost or sklearn flavor) as a new version."""
    from pmle.models.mlflow_models import import_mlflow as load

    with open_ws() as ws:
        version = load(ws, path, name, allow_pickle=allow_pickle, description=description)
    console().print(f"[green]✓[/] registered {version.ref} ({version.flavor}) from {path}")
