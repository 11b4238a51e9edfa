"""Links between the console's areas that more than one page draws."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def task_anchor(key: str) -> str:
    """The id of a pipeline task's section on its run page."""
    return "task-" + _SLUG.sub("-", key).strip("-")


def execution_href(kind: str, name: str | None, props: dict[str, Any]) -> str | None:
    """The console page of a lineage execution, when it has one."""
    if kind == "PipelineTask" and props.get("run_id") is not None:
        run = quote(str(props["run_id"]))
        return f"/pipelines/runs/{run}#{task_anchor(str(props.get('task', '')))}"
    if kind == "ExperimentRun" and name and "/" in name:
        return f"/experiments/{quote(name.split('/', 1)[0])}"
    return None
