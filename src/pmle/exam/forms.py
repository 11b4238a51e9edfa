"""Exam forms and their scoring.

- **Assembly** (`assemble`): a form of 50 or 60 reviewed items, allocated to sections by the
  blueprint's weights (largest remainder), spread over each section's objectives in turn, and
  preferring items the candidate has not seen; the same seed gives the same form. Each item's
  options are shuffled once for the attempt (`option_order`), so a resumed attempt shows them
  as before.
- **Scoring** (`score`): exact set — an item is right only when the chosen options are exactly
  its key; totals overall, per section and per objective. Google publishes no pass mark, so
  none is shown: `readiness` is an estimate, labelled as one.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pmle.errors import InvalidInput
from pmle.exam.blueprints import Blueprint, allocate
from pmle.exam.items import Item

__all__ = ["Form", "Score", "assemble", "option_order", "score"]

#: the share of items right from which the estimate reads "likely ready" (not Google's)
READY_SHARE = 0.75


@dataclass(frozen=True)
class Form:
    blueprint: str
    items: tuple[Item, ...]
    per_section: dict[int, int]
    seed: int


def _by_objective(items: Iterable[Item]) -> dict[str, list[Item]]:
    out: dict[str, list[Item]] = {}
    for item in items:
        out.setdefault(item.objectives[0], []).append(item)
    return out


def assemble(
    bp: Blueprint,
    items: Sequence[Item],
    length: int = 60,
    *,
    seen: Iterable[str] = (),
    seed: int | None = None,
) -> Form:
    """A form of `length` reviewed items of blueprint `bp` (see the module docstring)."""
    if length not in bp.lengths:
        raise InvalidInput(f"a form has {' or '.join(map(str, bp.lengths))} items, not {length}")
    chosen_seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    rng = random.Random(chosen_seed)
    already = set(seen)
    usable = [i for i in items if i.status == "reviewed" and i.blueprint == bp.id]
    pools = _by_objective(usable)
    for pool in pools.values():  # unseen first, each group in random order
        rng.shuffle(pool)
        pool.sort(key=lambda i: i.id in already)
    counts = allocate(bp, length)
    picked: list[Item] = []
    for section in bp.sections:
        need = counts[section.number]
        objectives = [o.id for o in section.objectives]
        have = sum(len(pools.get(o, [])) for o in objectives)
        if have < need:
            raise InvalidInput(
                f"section {section.number} needs {need} reviewed items; the bank has {have}",
                hint="add items to the bank (pmle exam bank --stats shows the counts)",
            )
        taken = 0
        while taken < need:  # one objective after another, so each is represented
            for objective in objectives:
                pool = pools.get(objective, [])
                if pool and taken < need:
                    picked.append(pool.pop(0))
                    taken += 1
    rng.shuffle(picked)
    return Form(bp.id, tuple(picked), counts, chosen_seed)


def option_order(item: Item, seed: int) -> list[str]:
    """The order an attempt shows an item's options in: shuffled once, from the attempt's
    seed and the item's id, so the same attempt always shows the same order."""
    order = [o.id for o in item.options]
    random.Random(f"{seed}:{item.id}").shuffle(order)
    return order


@dataclass
class Score:
    correct: int
    total: int
    answered: int
    by_section: dict[int, tuple[int, int]] = field(default_factory=dict)
    by_objective: dict[str, tuple[int, int]] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100.0 * self.correct / self.total if self.total else 0.0

    @property
    def readiness(self) -> str:
        """An estimate, labelled as such: Google publishes no passing score."""
        share = self.correct / self.total if self.total else 0.0
        verdict = "likely ready" if share >= READY_SHARE else "not ready yet"
        return f"readiness estimate (not an official pass mark): {verdict}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "correct": self.correct,
            "total": self.total,
            "answered": self.answered,
            "percent": self.percent,
            "by_section": {str(k): list(v) for k, v in self.by_section.items()},
            "by_objective": {k: list(v) for k, v in self.by_objective.items()},
            "wrong": self.wrong,
            "readiness": self.readiness,
        }


def score(bp: Blueprint, items: Sequence[Item], answers: Mapping[str, Iterable[str]]) -> Score:
    """Exact-set scoring of `answers` ({item id: chosen option ids}) over `items`."""
    result = Score(0, len(items), 0)
    for item in items:
        chosen = set(answers.get(item.id, ()))
        right = chosen == set(item.key)
        if chosen:
            result.answered += 1
        result.correct += right
        if not right:
            result.wrong.append(item.id)
        section = bp.section_of(item.objectives[0]).number
        got, of = result.by_section.get(section, (0, 0))
        result.by_section[section] = (got + right, of + 1)
        for objective in item.objectives:
            got, of = result.by_objective.get(objective, (0, 0))
            result.by_objective[objective] = (got + right, of + 1)
    return result
