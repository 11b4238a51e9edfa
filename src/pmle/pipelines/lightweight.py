"""KFP lightweight Python components: the function, source and packages their executor embeds.

kfp writes the function's source into the container command, to be written to a temp file and
run by `kfp.dsl.executor_main` after a bootstrap `pip install`; pmle runs the source itself.
"""

from __future__ import annotations

import shlex
from typing import NamedTuple

from pmle.errors import InvalidInput
from pmle.pipelines.ir import Executor

__all__ = ["LightweightFunction", "lightweight_function"]


class LightweightFunction(NamedTuple):
    """A KFP lightweight Python component: its function, embedded source and pip packages."""

    function_name: str
    source: str
    packages_to_install: list[str]


_PIP_VALUE_OPTIONS = {"--index-url", "-i", "--extra-index-url", "--trusted-host", "-f"}


def lightweight_function(executor: Executor) -> LightweightFunction | None:
    """The embedded function of a lightweight Python component, or None for any other executor
    (a container component, an importer, a containerized Python component without source).

    kfp writes `command = [sh, -c, BOOTSTRAP, sh, -ec, RUNNER, SOURCE]` (no bootstrap when there
    is nothing to install) and `args = [--executor_input, {{$}}, --function_to_execute, NAME]`;
    packages come from BOOTSTRAP's `pip install` lines, except the injected kfp install."""
    container = executor.container
    if container is None:
        return None
    command = list(container.command)
    runner = next((i for i, c in enumerate(command) if "kfp.dsl.executor_main" in c), None)
    if runner is None or runner + 1 >= len(command) or "ephemeral_component" not in command[runner]:
        return None
    args = list(container.args)
    if "--function_to_execute" not in args or args.index("--function_to_execute") + 1 >= len(args):
        raise InvalidInput(
            f"executor {executor.label!r} embeds Python source but names no function",
            hint="recompile the component with kfp",
        )
    name = args[args.index("--function_to_execute") + 1]
    packages: list[str] = []
    for script in command[:runner]:
        packages.extend(_pip_packages(script))
    return LightweightFunction(name, command[-1], packages)


def _pip_packages(script: str) -> list[str]:
    packages: list[str] = []
    for line in script.splitlines():
        for part in line.split("&&"):
            try:
                tokens = shlex.split(part)
            except ValueError:
                continue
            starts = [i for i in range(len(tokens) - 1) if tokens[i : i + 2] == ["pip", "install"]]
            if not starts:
                continue
            rest = tokens[starts[0] + 2 :]
            if "--no-deps" in rest and any(t.startswith("kfp") for t in rest):
                continue  # the kfp runtime kfp injects; the worker brings its own
            skip = False
            for token in rest:
                if skip:
                    skip = False
                elif token in _PIP_VALUE_OPTIONS:
                    skip = True
                elif not token.startswith("-"):
                    packages.append(token)
    return packages
