"""Spaced repetition of missed items with FSRS (the `fsrs` package).

An item gets a card the first time it is missed. Each later answer reviews the card: wrong is
FSRS's *Again* (the item comes back within minutes and counts a lapse), right is *Good* (the
interval grows with the card's stability). Items answered right that were never missed have no
card and are not scheduled. Cards are plain JSON (`fsrs.Card.to_dict()`), so the metadata
store keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import fsrs

__all__ = ["CardState", "review"]


@dataclass(frozen=True)
class CardState:
    """A card after a review: its JSON form and when it is next due (epoch seconds)."""

    card: dict[str, Any]
    due: float
    lapse: bool


@cache
def _scheduler() -> fsrs.Scheduler:
    import fsrs

    return fsrs.Scheduler(enable_fuzzing=False)


def review(card: dict[str, Any] | None, correct: bool, when: float) -> CardState | None:
    """Review `card` (None: the item has none yet) with an answer given at `when`.

    Returns None when there is nothing to schedule: a right answer to an item never missed."""
    import fsrs

    if card is None and correct:
        return None
    current = fsrs.Card.from_dict(card) if card is not None else fsrs.Card()  # type: ignore[arg-type]
    rating = fsrs.Rating.Good if correct else fsrs.Rating.Again
    moment = datetime.fromtimestamp(when, UTC)
    updated, _log = _scheduler().review_card(current, rating, review_datetime=moment)
    return CardState(dict(updated.to_dict()), updated.due.timestamp(), lapse=not correct)
