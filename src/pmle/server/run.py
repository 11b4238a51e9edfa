"""Running the server: uvicorn on loopback by default, one or more worker processes."""

from __future__ import annotations

import os

from pmle.errors import InvalidInput


def serve(
    workspace: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    require_token: bool = False,
    max_body_bytes: int | None = None,
    log_level: str = "warning",
) -> None:
    """Serve every endpoint of the workspace until interrupted.

    With `workers` > 1, uvicorn starts that many processes on the same port; each loads the
    deployed models and follows deployment changes on its own."""
    import uvicorn

    from pmle.server.app import DEFAULT_MAX_BODY, create_app
    from pmle.workspace import open_workspace

    if not 1 <= workers <= 64:
        raise InvalidInput(f"workers must be 1..64, got {workers}")
    if not 0 < port < 65536:
        raise InvalidInput(f"invalid port {port}")
    limit = DEFAULT_MAX_BODY if max_body_bytes is None else max_body_bytes
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
        app = create_app(workspace, require_token=require_token, max_body_bytes=limit)
        uvicorn.run(app, **kwargs)  # type: ignore[arg-type]
        return
    # Worker processes build the app themselves from the environment.
    ws = open_workspace(workspace)
    ws.engine  # noqa: B018 - migrate once, before the workers start
    os.environ["PMLE_WORKSPACE"] = str(ws.root)
    os.environ["PMLE_SERVE_REQUIRE_TOKEN"] = "1" if require_token else "0"
    os.environ["PMLE_SERVE_MAX_BODY"] = str(limit)
    uvicorn.run(
        "pmle.server.app:app_from_env",
        factory=True,
        workers=workers,
        **kwargs,  # type: ignore[arg-type]
    )
