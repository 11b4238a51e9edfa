"""Item statistics from local attempts — classical test theory, as exam boards use it.

For every item answered in submitted mock exams:

- **difficulty** p: the share of candidates who got it right;
- **discrimination**: the point-biserial correlation between the item's score (0/1) and the
  candidate's score on the *other* items of the same attempt (the corrected item–rest
  correlation, so an item does not correlate with itself);
- **option choice rates**: the share of responses choosing each option (a multiple-select
  response counts for every option it chose).

Flags for review (only from `min_responses` responses on): p below 0.2 (hard, or a wrong key)
or above 0.8 (easy); discrimination below 0 (the better candidates miss it: check the key) or
below 0.3 (weak); a distractor chosen by fewer than 5% (not working) or more often than a key
option; and open problem reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pmle.exam.items import Item

__all__ = ["ItemStats", "Response", "item_statistics", "point_biserial"]

HARD, EASY = 0.2, 0.8
GOOD_DISCRIMINATION = 0.3
WORKING_DISTRACTOR = 0.05


class Response(NamedTuple):
    """One candidate's answer to one item in one attempt."""

    item: str
    chosen: tuple[str, ...]
    correct: bool


@dataclass
class ItemStats:
    """The statistics of one item, with what to look at."""

    item: str
    responses: int
    difficulty: float  # share right
    discrimination: float | None  # None when either score does not vary
    choice_rates: dict[str, float] = field(default_factory=dict)  # option id → share choosing
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "item": self.item,
            "responses": self.responses,
            "difficulty": self.difficulty,
            "discrimination": self.discrimination,
            "choice_rates": self.choice_rates,
            "flags": self.flags,
        }


def point_biserial(scores: Sequence[float], totals: Sequence[float]) -> float | None:
    """Pearson's correlation of a 0/1 item score with a total (None without variance)."""
    n = len(scores)
    if n < 2 or n != len(totals):
        return None
    mean_x = sum(scores) / n
    mean_y = sum(totals) / n
    sxx = sum((x - mean_x) ** 2 for x in scores)
    syy = sum((y - mean_y) ** 2 for y in totals)
    if sxx == 0 or syy == 0:
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(scores, totals, strict=True))
    return sxy / math.sqrt(sxx * syy)


def item_statistics(
    sheets: Sequence[Sequence[Response]],
    items: Mapping[str, Item],
    *,
    min_responses: int = 5,
    reports: Mapping[str, int] | None = None,
) -> list[ItemStats]:
    """Statistics of every item in `sheets` (one list of responses per submitted attempt),
    most flagged first, then by item id."""
    per_item: dict[str, list[tuple[Response, float]]] = {}
    for sheet in sheets:
        right = sum(r.correct for r in sheet)
        for response in sheet:
            others = len(sheet) - 1
            rest = (right - response.correct) / others if others else 0.0
            per_item.setdefault(response.item, []).append((response, rest))
    out: list[ItemStats] = []
    for item_id, answered in per_item.items():
        n = len(answered)
        scores = [float(r.correct) for r, _ in answered]
        p = sum(scores) / n
        r_pb = point_biserial(scores, [rest for _, rest in answered])
        item = items.get(item_id)
        option_ids = [o.id for o in item.options] if item else []
        rates = {o: sum(o in r.chosen for r, _ in answered) / n for o in option_ids}
        stats = ItemStats(item_id, n, p, r_pb, rates)
        if n >= min_responses:
            stats.flags = _flags(stats, item)
        if reports and reports.get(item_id):
            stats.flags.append(f"{reports[item_id]} open problem report(s)")
        out.append(stats)
    out.sort(key=lambda s: (-len(s.flags), s.item))
    return out


def _flags(stats: ItemStats, item: Item | None) -> list[str]:
    flags: list[str] = []
    if stats.difficulty < HARD:
        flags.append(f"hard: p = {stats.difficulty:.2f} < {HARD} (check the key)")
    elif stats.difficulty > EASY:
        flags.append(f"easy: p = {stats.difficulty:.2f} > {EASY}")
    r = stats.discrimination
    if r is not None and r < 0:
        flags.append(f"negative discrimination r = {r:.2f}: stronger candidates miss it")
    elif r is not None and r < GOOD_DISCRIMINATION:
        flags.append(f"weak discrimination r = {r:.2f} < {GOOD_DISCRIMINATION}")
    if item is not None:
        key_rate = min((stats.choice_rates.get(k, 0.0) for k in item.key), default=0.0)
        for option in item.options:
            if option.id in item.key:
                continue
            rate = stats.choice_rates.get(option.id, 0.0)
            if rate > key_rate:
                flags.append(f"distractor {option.id} chosen more often than the key ({rate:.0%})")
            elif rate < WORKING_DISTRACTOR:
                flags.append(f"distractor {option.id} not working: chosen by {rate:.0%}")
    return flags
