"""The `pmle` command line: a thin layer over the Python API (typer + rich)."""

from __future__ import annotations


def main() -> None:
    """Entry point of the `pmle` console script."""
    from pmle.cli.app import run

    run()
