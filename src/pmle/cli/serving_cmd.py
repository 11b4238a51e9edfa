"""`pmle endpoints …`, `pmle tokens …` and `pmle serve`: online prediction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pmle.cli._common import console, handle_errors, open_ws, print_json, state

if TYPE_CHECKING:
    from pmle.serving.endpoints import EndpointInfo

endpoints_app = typer.Typer(
    help="Endpoints: deploy model versions behind a traffic split (A/B tests, canaries).",
    no_args_is_help=True,
)
tokens_app = typer.Typer(
    help="API tokens for the server's protected routes (stored hashed).", no_args_is_help=True
)

NameArg = Annotated[str, typer.Argument(help="endpoint name")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _split_arg(text: str) -> dict[str, int]:
    """`1=90,2=10` → {"1": 90, "2": 10}."""
    from pmle.errors import InvalidInput

    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not value.strip().lstrip("-").isdigit():
            raise InvalidInput(
                f"cannot read traffic split {text!r}", hint="write it as ID=PERCENT,ID=PERCENT"
            )
        out[key.strip()] = int(value)
    return out


def _print_endpoint(info: EndpointInfo) -> None:
    from pmle.cli._render import titled_table

    out = console()
    out.print(
        f"[bold]{info.name}[/]  revision {info.revision}  "
        f"logging {info.log_sampling:.0%} of requests"
        + (f"  — {info.description}" if info.description else "")
    )
    if not info.deployed_models:
        out.print("nothing deployed — [bold]pmle endpoints deploy NAME --model MODEL[@V][/]")
        return
    table = titled_table(
        "deployed models",
        [
            ("id", "right"),
            ("model", "left"),
            ("traffic", "right"),
            ("batch", "right"),
            ("requests", "right"),
            ("errors", "right"),
            ("mean ms", "right"),
            ("p99 ms ≤", "right"),
        ],
    )
    for d in info.deployed_models:
        stats = d.to_dict()["stats"]
        table.add_row(
            d.id,
            d.model,
            f"{d.traffic_percent}%",
            f"{d.max_batch_size}" + (f" / {d.max_wait_ms:g} ms" if d.max_wait_ms else ""),
            str(d.request_count),
            str(d.error_count),
            "—" if stats["latencyMsMean"] is None else f"{stats['latencyMsMean']:.2f}",
            "—" if stats["latencyMsP99"] is None else f"{stats['latencyMsP99']:g}",
        )
    out.print(table)


@endpoints_app.command("create")
@handle_errors
def create(
    name: NameArg,
    description: Annotated[str, typer.Option(help="free text")] = "",
    log_sampling: Annotated[
        float, typer.Option(help="share of requests logged to the prediction_log view (0..1)")
    ] = 0.0,
) -> None:
    """Create an endpoint."""
    info = open_ws().endpoints.create(name, description=description, log_sampling=log_sampling)
    console().print(f"created endpoint [bold]{info.name}[/]")


@endpoints_app.command("list")
@handle_errors
def list_(as_json: JsonOpt = False) -> None:
    """List endpoints with their deployed models and split."""
    items = open_ws().endpoints.list()
    if as_json:
        print_json([e.to_dict() for e in items])
        return
    from pmle.cli._render import titled_table

    out = console()
    if not items:
        out.print("no endpoints yet — [bold]pmle endpoints create NAME[/]")
        return
    table = titled_table("endpoints", [("name", "left"), ("split", "left"), ("logging", "right")])
    for e in items:
        split = ", ".join(f"{d.id}:{d.model} {d.traffic_percent}%" for d in e.deployed_models)
        table.add_row(e.name, split or "[dim]nothing deployed[/]", f"{e.log_sampling:.0%}")
    out.print(table)


@endpoints_app.command("describe")
@handle_errors
def describe(name: NameArg, as_json: JsonOpt = False) -> None:
    """An endpoint's deployed models, split, request counts, errors and latency."""
    info = open_ws().endpoints.get(name)
    if as_json:
        print_json(info.to_dict())
    else:
        _print_endpoint(info)


@endpoints_app.command("update")
@handle_errors
def update(
    name: NameArg,
    description: Annotated[str | None, typer.Option(help="free text")] = None,
    log_sampling: Annotated[float | None, typer.Option(help="share of requests logged")] = None,
) -> None:
    """Change an endpoint's description or request-response logging rate."""
    info = open_ws().endpoints.update(name, description=description, log_sampling=log_sampling)
    _print_endpoint(info)


@endpoints_app.command("delete")
@handle_errors
def delete(
    name: NameArg,
    force: Annotated[bool, typer.Option("--force", help="also undeploy its models")] = False,
) -> None:
    """Delete an endpoint."""
    open_ws().endpoints.delete(name, force=force)
    console().print(f"deleted endpoint [bold]{name}[/]")


@endpoints_app.command("deploy")
@handle_errors
def deploy(
    name: NameArg,
    model: Annotated[str, typer.Option("--model", "-m", help="NAME, NAME@VERSION or NAME@ALIAS")],
    traffic: Annotated[
        int | None,
        typer.Option(help="percent for the new model (others keep their proportions); 100 default"),
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="the whole split, e.g. 1=90,0=10 (0 = the new model)")
    ] = None,
    max_batch_size: Annotated[
        int, typer.Option(help="rows per predict call when batching concurrent requests")
    ] = 64,
    max_wait_ms: Annotated[
        float,
        typer.Option(help="how long a batch may wait to fill under concurrent load (0: never)"),
    ] = 2.0,
    no_batching: Annotated[
        bool, typer.Option("--no-batching", help="one predict call per request")
    ] = False,
    compile_trees: Annotated[
        bool,
        typer.Option(
            "--compile", help="compile LightGBM trees to machine code (lleaves: extra 'compiled')"
        ),
    ] = False,
    features: Annotated[
        list[str] | None,
        typer.Option(
            "--features",
            help="look these up in the feature store by the instances' entity keys "
            "(view or view:feature; repeatable)",
        ),
    ] = None,
) -> None:
    """Deploy a model version (resolved now) on an endpoint."""
    ws = open_ws()
    d = ws.endpoints.deploy(
        name,
        model,
        traffic_percent=traffic,
        traffic_split=_split_arg(split) if split is not None else None,
        max_batch_size=1 if no_batching else max_batch_size,
        max_wait_ms=max_wait_ms,
        compile=compile_trees,
        features=features or (),
    )
    console().print(f"deployed [bold]{d.model}[/] on {name} as id {d.id}")
    _print_endpoint(ws.endpoints.get(name))


@endpoints_app.command("undeploy")
@handle_errors
def undeploy(
    name: NameArg,
    deployed_model_id: Annotated[str, typer.Argument(help="the deployed model id")],
) -> None:
    """Remove a deployed model; the others keep their proportions."""
    ws = open_ws()
    ws.endpoints.undeploy(name, deployed_model_id)
    _print_endpoint(ws.endpoints.get(name))


@endpoints_app.command("split")
@handle_errors
def split_(
    name: NameArg,
    split: Annotated[str, typer.Argument(help="ID=PERCENT,... summing to 100")],
) -> None:
    """Set the traffic split (servers pick it up within a second)."""
    _print_endpoint(open_ws().endpoints.set_traffic_split(name, _split_arg(split)))


@tokens_app.command("create")
@handle_errors
def token_create(
    name: Annotated[str, typer.Argument(help="a name for the token")],
    role: Annotated[
        str,
        typer.Option(help="editor: may act (deploy, splits, retries, exams); viewer: reads"),
    ] = "editor",
) -> None:
    """Create a token; its secret is printed once, here. It signs in to the console too."""
    secret = open_ws().tokens.create(name, role=role)
    console(stderr=True).print("[dim]store it now; pmle keeps only its hash[/]")
    typer.echo(secret)


@tokens_app.command("list")
@handle_errors
def token_list(as_json: JsonOpt = False) -> None:
    """List tokens (never their secrets)."""
    items = open_ws().tokens.list()
    if as_json:
        print_json([t.to_dict() for t in items])
        return
    from pmle.cli._render import titled_table

    table = titled_table(
        "tokens", [("name", "left"), ("prefix", "left"), ("role", "left"), ("state", "left")]
    )
    for t in items:
        table.add_row(t.name, t.prefix + "…", t.role, "active" if t.active else "revoked")
    console().print(table)


@tokens_app.command("revoke")
@handle_errors
def token_revoke(name: Annotated[str, typer.Argument(help="the token's name")]) -> None:
    """Revoke a token (servers stop accepting it within a second)."""
    open_ws().tokens.revoke(name)
    console().print(f"revoked token [bold]{name}[/]")


@handle_errors
def serve(
    host: Annotated[
        str, typer.Option(help="interface to bind (loopback by default)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8080,
    workers: Annotated[int, typer.Option(help="server processes (local runner)")] = 1,
    require_token: Annotated[
        bool, typer.Option("--require-token", help="prediction routes need a bearer token too")
    ] = False,
    max_body_mb: Annotated[float, typer.Option(help="request size limit (413 above)")] = 1.5,
    runner: Annotated[
        str, typer.Option("--runner", help="local (uvicorn), or ray (Ray Serve; pmle[ray])")
    ] = "local",
    replicas: Annotated[
        int | None, typer.Option("--replicas", help="Ray Serve replicas (--runner ray)")
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="join this Ray cluster (--runner ray; default: local)"),
    ] = None,
    monitors: Annotated[
        bool,
        typer.Option(
            "--monitors",
            help="also run scheduled monitors and pipeline schedules when due (as pmle scheduler)",
        ),
    ] = False,
) -> None:
    """Serve every endpoint of the workspace (Vertex AI, KServe V1 and V2 routes, /metrics)
    and the web console at / (sign in with a token from `pmle tokens create` to act)."""
    from pmle.server.run import serve as run_server

    ws = open_ws()
    err = console(stderr=True)
    scale = f"{replicas or 1} Ray Serve replica(s)" if runner == "ray" else f"{workers} worker(s)"
    err.print(
        f"serving {len(ws.endpoints.list())} endpoint(s) of {ws.root} on http://{host}:{port} "
        f"with {scale} — Ctrl-C stops"
    )
    err.print(
        f"console: http://{host}:{port}/ (sign in with a token to act: "
        "pmle tokens create NAME [--role viewer])"
    )
    run_server(
        str(ws.root) if state.workspace is None else state.workspace,
        host=host,
        port=port,
        workers=workers,
        require_token=require_token,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        runner=runner,
        replicas=replicas,
        ray_address=ray_address,
        run_monitors=monitors,
    )


def register(app: typer.Typer) -> None:
    """Add the serving commands to the `pmle` app."""
    app.add_typer(endpoints_app, name="endpoints")
    app.add_typer(tokens_app, name="tokens")
    app.command("serve")(serve)
