"""Exam fixtures: a synthetic bank (six reviewed items per pmle-v2 objective, the first of each
multiple-select), a clock that moves only when told to, and a trainer over both."""

from __future__ import annotations

import pytest

from pmle.exam.attempts import Trainer
from pmle.exam.blueprints import blueprint
from pmle.exam.items import Item, Option
from pmle.workspace import Workspace


class Clock:
    """Time that moves only when told to."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _item(ident: str, objective: str, key: tuple[str, ...] = ("B",)) -> Item:
    return Item(
        id=ident,
        blueprint="pmle-v2",
        objectives=(objective,),
        type="single" if len(key) == 1 else "multiple",
        stem=f"stem of {ident}",
        options=tuple(Option(letter, f"option {letter}", f"why {letter}") for letter in "ABCDE"),
        key=key,
        explanation="because",
        references=("https://cloud.google.com/vertex-ai/docs",),
        difficulty="medium",
        products=("Vertex AI",),
        status="reviewed",
        choose=len(key),
    )


@pytest.fixture
def bank() -> list[Item]:
    """Six reviewed items per objective; the first of each objective is multiple-select."""
    items = []
    for o in blueprint().objectives:
        items.append(_item(f"{o.id}-00", o.id, key=("A", "C")))
        items.extend(_item(f"{o.id}-{n:02d}", o.id) for n in range(1, 6))
    return items


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def trainer(ws: Workspace, bank: list[Item], clock: Clock) -> Trainer:
    return Trainer(ws, items=bank, clock=clock)
