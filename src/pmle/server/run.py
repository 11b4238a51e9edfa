"""Running the server: uvicorn on loopback by default, one or more worker processes, or the
same app as replicas on Ray Serve (`runner="ray"`, see `pmle.server.ray_runner`)."""

from __future__ import annotations

import os

from pmle.errors import InvalidInput

#: Where the server runs: uvicorn in this process (and its workers), or Ray Serve replicas.
RUNNERS = ("local", "ray")


def serve(
    workspace: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    require_token: bool = False,
    max_body_bytes: int | None = None,
    log_level: str = "warning",
    runner: str = "local",
    replicas: int | None = None,
    ray_address: str | None = None,
    run_monitors: bool = False,
) -> None:
    """Serve every endpoint of the workspace until interrupted.

    With `workers` > 1, uvicorn starts that many processes on the same port; each loads the
    deployed models and follows deployment changes on its own. With `runner="ray"`, Ray Serve
    runs `replicas` replicas of the same app behind its proxy on `host:port`, on a local Ray or
    on the cluster at `ray_address`. `run_monitors`: the server also runs scheduled monitors
    and starts pipeline schedules' runs when they are due (as `pmle scheduler` does)."""
    from pmle.server.app import DEFAULT_MAX_BODY, create_app
    from pmle.workspace import open_workspace

    if runner not in RUNNERS:
        raise InvalidInput(f"unknown runner {runner!r}", hint=f"use one of {', '.join(RUNNERS)}")
    if not 1 <= workers <= 64:
        raise InvalidInput(f"workers must be 1..64, got {workers}")
    if not 0 < port < 65536:
        raise InvalidInput(f"invalid port {port}")
    limit = DEFAULT_MAX_BODY if max_body_bytes is None else max_body_bytes
    if limit <= 0:
        raise InvalidInput("the body size limit must be positive")
    if runner == "ray":
        from pmle.server.ray_runner import serve_ray

        if run_monitors:
            raise InvalidInput(
                "replicas on Ray do not run monitors",
                hint="run `pmle scheduler` beside the Ray server",
            )
        if workers != 1:
            raise InvalidInput(
                "workers are uvicorn processes of the local runner",
                hint="with --runner ray, scale with --replicas N",
            )
        ws = open_workspace(workspace)
        ws.engine  # noqa: B018 - migrate once, before the replicas start
        serve_ray(
            str(ws.root),
            host=host,
            port=port,
            replicas=1 if replicas is None else replicas,
            require_token=require_token,
            max_body_bytes=limit,
            address=ray_address,
        )
        return
    if replicas is not None or ray_address is not None:
        raise InvalidInput(
            "--replicas and --ray-address are for --runner ray",
            hint="locally, scale with --workers N",
        )
    import uvicorn

    kwargs = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,
        "loop": "auto",
        "http": "auto",
        "lifespan": "on",
    }
    if workers == 1:
        app = create_app(
            workspace, require_token=require_token, max_body_bytes=limit, run_monitors=run_monitors
        )
        uvicorn.run(app, **kwargs)  # type: ignore[arg-type]
        return
    # Worker processes build the app themselves from the environment.
    ws = open_workspace(workspace)
    ws.engine  # noqa: B018 - migrate once, before the workers start
    os.environ["PMLE_WORKSPACE"] = str(ws.root)
    os.environ["PMLE_SERVE_REQUIRE_TOKEN"] = "1" if require_token else "0"
    os.environ["PMLE_SERVE_MAX_BODY"] = str(limit)
    os.environ["PMLE_SERVE_MONITORS"] = "1" if run_monitors else "0"
    uvicorn.run(
        "pmle.server.app:app_from_env",
        factory=True,
        workers=workers,
        **kwargs,  # type: ignore[arg-type]
    )
