"""pmle — the Professional ML Engineer's whole job on one machine.

The package root stays light: heavy libraries are imported inside the functions that use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Endpoint",
    "Workspace",
    "__version__",
    "errors",
    "init",
    "job_run",
    "open_workspace",
    "sql",
    "start_run",
]

if TYPE_CHECKING:
    import pyarrow as pa

    from pmle import errors
    from pmle.serving.client import Endpoint
    from pmle.tracking import Run
    from pmle.workspace import Workspace, init, open_workspace


def sql(script: str, workspace: str | None = None) -> pa.Table:
    """Run SQL with BigQuery ML statements in a workspace (default: the one found from
    `PMLE_WORKSPACE` or the current folder); the last statement's rows as an Arrow table."""
    from pmle.workspace import open_workspace

    return open_workspace(workspace).sql(script)


def start_run(
    experiment: str = "default",
    name: str | None = None,
    *,
    workspace: str | None = None,
    **kwargs: Any,
) -> Run:
    """Start a run in the workspace `workspace` (default: the one found from
    `PMLE_WORKSPACE` or the current folder); the run closes the workspace when it ends.

        with pmle.start_run("churn", params={"lr": 0.1}) as run:
            run.log_metric("auc", 0.91)
    """
    from pmle.workspace import open_workspace

    ws = open_workspace(workspace)
    try:
        run = ws.tracking.start_run(experiment, name, **kwargs)
    except BaseException:
        ws.close()
        raise
    run._close_workspace = True
    return run


def job_run() -> Run:
    """Inside a training job (`pmle jobs run`): the job's tracking run, to log parameters,
    metrics and artifacts to. The job's supervisor ends it when the job exits."""
    import os

    from pmle.errors import InvalidInput
    from pmle.workspace import open_workspace

    run_id = os.environ.get("PMLE_RUN_ID")
    if not run_id:
        raise InvalidInput(
            "pmle.job_run() works inside a training job: PMLE_RUN_ID is not set",
            hint="start the script with pmle jobs run, or use pmle.start_run()",
        )
    ws = open_workspace(os.environ.get("PMLE_WORKSPACE"))
    try:
        run = ws.tracking.attach(int(run_id))
    except BaseException:
        ws.close()
        raise
    run._close_workspace = True
    return run


def __getattr__(name: str) -> Any:
    # Lazy re-exports keep `import pmle` fast.
    if name in {"Workspace", "init", "open_workspace"}:
        from pmle import workspace

        return getattr(workspace, name)
    if name == "Endpoint":
        from pmle.serving.client import Endpoint

        return Endpoint
    if name == "errors":
        import importlib

        return importlib.import_module("pmle.errors")
    raise AttributeError(f"module 'pmle' has no attribute {name!r}")
