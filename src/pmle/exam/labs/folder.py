"""A lab's folder: a pmle workspace with the lab's task (TASK.md), its planted data and state,
and a marker (`.pmle/lab.json`: the lab id, when it started, the facts its checker needs and
the files its setup wrote).

The marker is written first (not ready) and completed after the setup, so a setup that was
killed half-way is recognised and planted again instead of being checked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pmle._util import utcnow
from pmle.errors import Conflict, InvalidInput, NotFound, WorkspaceNotFound
from pmle.exam.labs.base import Check, render_task
from pmle.exam.labs.catalog import lab, module_of
from pmle.workspace import DIRNAME, Workspace, find_workspace, open_workspace

__all__ = [
    "MARKER",
    "TASK_FILE",
    "check",
    "find_lab_folder",
    "lab_of",
    "read_marker",
    "reset",
    "start",
]

MARKER = "lab.json"
TASK_FILE = "TASK.md"


def _resolve(folder: str | Path) -> Path:
    path = Path(folder).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise InvalidInput(f"{path} is a file, not a folder")
    return path


def read_marker(folder: str | Path) -> dict[str, Any] | None:
    """The lab marker of a folder, or None when it holds none (or an unreadable one)."""
    path = Path(folder) / DIRNAME / MARKER
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("lab"), str) else None


def lab_of(folder: str | Path) -> str | None:
    """The id of the lab whose workspace `folder` is, or None."""
    marker = read_marker(folder)
    return None if marker is None else str(marker["lab"])


def _write_marker(folder: Path, marker: dict[str, Any]) -> None:
    from pmle._util import atomic_write

    with atomic_write(folder / DIRNAME / MARKER) as fh:
        fh.write(json.dumps(marker, indent=1, default=str).encode())


def _is_empty(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


def start(lab_id: str, folder: str | Path) -> Workspace:
    """Start lab `lab_id` in `folder` (created when missing): a new pmle workspace with TASK.md,
    the marker and the lab's data and state. A folder already holding this lab is returned as
    it is; any other non-empty folder is refused."""
    module_of(lab_id)  # NotFound for an unknown id, before anything is written
    path = _resolve(folder)
    marker = read_marker(path)
    if marker is not None:
        if marker["lab"] != lab_id:
            raise Conflict(
                f"{path} holds the workspace of lab {marker['lab']!r}, not {lab_id!r}",
                hint=f"start {lab_id} in another folder (--dir PATH), or go on with "
                f"{marker['lab']} there",
            )
        if marker.get("ready"):
            return open_workspace(path)
        return reset(lab_id, path)  # its setup never finished: plant it again
    if not _is_empty(path):
        what = "a pmle workspace that is not a lab's" if (path / DIRNAME).is_dir() else "files"
        raise Conflict(
            f"{path} already holds {what}; a lab starts in a new or empty folder",
            hint=f"choose another folder: pmle lab start {lab_id} --dir PATH",
        )
    return _plant(lab_id, path, fresh=True)


def _plant(lab_id: str, path: Path, *, fresh: bool) -> Workspace:
    from pmle import __version__
    from pmle.workspace import init

    module = module_of(lab_id)
    ws = init(path)
    marker: dict[str, Any] = {
        "lab": lab_id,
        "title": module.LAB.title,
        "started_at": utcnow().isoformat(),
        "pmle_version": __version__,
        "ready": False,
        "facts": {},
        "files": [TASK_FILE],
    }
    try:
        _write_marker(path, marker)
        planted = module.setup(ws, path)
        (path / TASK_FILE).write_text(render_task(module.LAB), encoding="utf-8")
        marker.update(ready=True, facts=planted.facts, files=[TASK_FILE, *planted.files])
        _write_marker(path, marker)
    except BaseException:
        ws.close()
        if fresh:  # the folder was empty: leave it so
            for child in path.iterdir():
                _remove(child)
        else:
            _remove(path / DIRNAME)
        raise
    return ws


def check(lab_id: str, folder: str | Path) -> list[Check]:
    """Inspect the lab's workspace in `folder` (never changing it): one Check per criterion of
    the task, each saying what was found or what is still missing."""
    module = module_of(lab_id)
    path = _resolve(folder)
    marker = read_marker(path)
    if marker is None:
        if (path / DIRNAME).is_dir():
            raise InvalidInput(
                f"{path} is a pmle workspace, but no lab's",
                hint=f"start the lab in its own folder: pmle lab start {lab_id}",
            )
        raise NotFound(
            f"lab {lab_id} is not started in {path}",
            hint=f"pmle lab start {lab_id} (or give its folder with --dir)",
        )
    if marker["lab"] != lab_id:
        raise InvalidInput(
            f"{path} holds lab {marker['lab']!r}, not {lab_id!r}",
            hint=f"pmle lab check {marker['lab']}",
        )
    if not marker.get("ready"):
        raise Conflict(
            f"the setup of lab {lab_id} in {path} did not finish",
            hint=f"pmle lab reset {lab_id} plants it again",
        )
    with open_workspace(path) as ws:
        return module.check(ws, dict(marker.get("facts") or {}))


def reset(lab_id: str, folder: str | Path) -> Workspace:
    """Wipe the lab's workspace in `folder` (its state, TASK.md and the files its setup
    planted; your own files stay) and start the lab again. Refuses a folder that is not this
    lab's."""
    module_of(lab_id)
    path = _resolve(folder)
    marker = read_marker(path)
    if marker is None:
        if _is_empty(path):
            return _plant(lab_id, path, fresh=True)
        raise Conflict(
            f"{path} is not the folder of lab {lab_id}: nothing was deleted",
            hint=f"give the lab's folder with --dir, or start it: pmle lab start {lab_id}",
        )
    if marker["lab"] != lab_id:
        raise Conflict(
            f"{path} holds lab {marker['lab']!r}, not {lab_id!r}: nothing was deleted",
            hint=f"pmle lab reset {marker['lab']} resets that one",
        )
    planted = [str(f) for f in marker.get("files") or []]
    _remove(path / DIRNAME)
    for rel in planted:
        target = (path / rel).resolve()
        if target.is_relative_to(path) and target != path:  # never outside the lab's folder
            _remove(target)
            for parent in target.parents:  # folders the setup made, now empty
                if parent == path or not parent.is_dir() or any(parent.iterdir()):
                    break
                parent.rmdir()
    return _plant(lab_id, path, fresh=False)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def find_lab_folder(lab_id: str, folder: str | Path | None = None) -> Path:
    """Where lab `lab_id` lives: `folder` when given; else the workspace around the current
    folder when its marker names this lab; else `./pmle-lab-<id>`."""
    lab(lab_id)
    if folder is not None:
        return Path(folder).expanduser().resolve()
    here = Path.cwd()
    try:
        state = find_workspace(here)
    except WorkspaceNotFound:
        state = None
    if state is not None and lab_of(state.parent) == lab_id:
        return state.parent
    return here / f"pmle-lab-{lab_id}"
