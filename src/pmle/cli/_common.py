"""What every command shares: the open workspace, console output, one-line errors."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from pmle.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])

#: Exit code for a usage or input error (as typer / click use for bad arguments).
EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


class State:
    """Options given before the sub-command (`pmle --workspace W --debug ...`)."""

    workspace: str | None = None
    debug: bool = False


state = State()


def console(stderr: bool = False) -> Console:
    """A rich console (imported lazily: rich is slow to import)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=stderr)


def open_ws() -> Workspace:
    """The workspace named by --workspace, PMLE_WORKSPACE, or found from the current folder."""
    from pmle.workspace import open_workspace

    return open_workspace(state.workspace)


def _debug_enabled() -> bool:
    return state.debug or os.environ.get("PMLE_DEBUG", "").lower() in {"1", "true", "yes", "on"}


def fail(message: str, hint: str | None = None, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print a one-line error (and hint) on stderr; return the Exit to raise."""
    err = console(stderr=True)
    err.print(f"[bold red]error:[/] {_escape(message)}")
    if hint:
        err.print(f"[dim]hint: {_escape(hint)}[/]")
    return typer.Exit(code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def handle_errors(fn: F) -> F:
    """Turn pmle errors into one line and an exit code; no traceback unless --debug."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pmle.errors import PmleError

        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except PmleError as exc:
            if _debug_enabled():
                raise
            code = EXIT_BAD_INPUT if exc.status < 500 else EXIT_FAILURE
            raise fail(exc.message, exc.hint, code)
        except KeyboardInterrupt:
            raise fail("interrupted", code=130)
        except Exception as exc:
            if _debug_enabled():
                raise
            raise fail(
                f"unexpected {exc.__class__.__name__}: {exc}",
                "run again with --debug for the traceback, and please report it",
                EXIT_FAILURE,
            )

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    """JSON on stdout, for scripts."""
    import orjson

    sys.stdout.write(
        orjson.dumps(
            data,
            option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
            default=str,
        ).decode()
        + "\n"
    )
