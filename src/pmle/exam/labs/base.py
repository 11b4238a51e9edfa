"""What a lab is: its description (:class:`Lab`), what its setup planted (:class:`Planted`),
what its checker found (:class:`Check`), and the shape of a lab module (:class:`LabModule`).

A lab module holds one lab: `LAB` (the description), `setup(ws, folder)` (plants the data and
state the task starts from) and `check(ws, facts)` (inspects the workspace through pmle's API,
never changing it, and says what is still missing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pmle.workspace import Workspace

__all__ = ["Check", "Lab", "LabModule", "Planted", "fail", "ok", "render_task"]


@dataclass(frozen=True)
class Check:
    """One thing the checker looked at: whether it passed, and what was found or is missing."""

    name: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class Lab:
    """A hands-on lab: a realistic task done with pmle in a workspace of its own."""

    id: str  # e.g. "sql-model"
    title: str
    section: int  # pmle-v2 section 1..6
    objectives: tuple[str, ...]  # the pmle-v2 objectives it practises, e.g. ("1.1",)
    summary: str  # one line
    task: str  # markdown: scenario, what to build, the success criteria
    hints: tuple[str, ...]  # progressive, naming the pmle commands / API to use

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "section": self.section,
            "objectives": list(self.objectives),
            "summary": self.summary,
            "task": self.task,
            "hints": len(self.hints),
        }


@dataclass
class Planted:
    """What a lab's setup left in the folder: facts its checker needs (kept in the marker)
    and the files it wrote (relative paths; a reset removes them again)."""

    facts: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


class LabModule(Protocol):
    """A module holding one lab."""

    LAB: Lab

    def setup(self, ws: Workspace, folder: Path) -> Planted: ...

    def check(self, ws: Workspace, facts: dict[str, Any]) -> list[Check]: ...


def ok(name: str, detail: str) -> Check:
    """A passed check."""
    return Check(name, True, detail)


def fail(name: str, detail: str) -> Check:
    """A failed check; `detail` says what is missing and what to do next."""
    return Check(name, False, detail)


def render_task(lab: Lab) -> str:
    """The TASK.md written into a lab's folder."""
    objectives = ", ".join(lab.objectives)
    return (
        f"# Lab {lab.id}: {lab.title}\n\n"
        f"*pmle-v2 section {lab.section}, objective(s) {objectives}. {lab.summary}*\n\n"
        f"{lab.task.strip()}\n\n"
        "## Checking your work\n\n"
        "Work in this folder (it is a pmle workspace: `pmle` commands run here use it).\n\n"
        f"- `pmle lab check {lab.id}` says what is done and what is still missing.\n"
        f"- `pmle lab show {lab.id} --hint 1` reveals the first of {len(lab.hints)} hints "
        "(`--hint 2` the next, and so on).\n"
        f"- `pmle lab reset {lab.id}` starts again from scratch (your own files stay).\n"
    )
