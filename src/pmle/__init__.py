"""pmle — the Professional ML Engineer's whole job on one machine.

The package root stays light: heavy libraries are imported inside the functions that use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Endpoint", "Workspace", "__version__", "errors", "init", "open_workspace", "sql"]

if TYPE_CHECKING:
    import pyarrow as pa

    from pmle import errors
    from pmle.serving.client import Endpoint
    from pmle.workspace import Workspace, init, open_workspace


def sql(script: str, workspace: str | None = None) -> pa.Table:
    """Run SQL with BigQuery ML statements in a workspace (default: the one found from
    `PMLE_WORKSPACE` or the current folder); the last statement's rows as an Arrow table."""
    from pmle.workspace import open_workspace

    return open_workspace(workspace).sql(script)


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
