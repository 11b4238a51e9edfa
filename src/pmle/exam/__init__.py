"""The exam trainer: blueprints (:mod:`pmle.exam.blueprints`), items and their validator
(:mod:`pmle.exam.items`), the question bank (:mod:`pmle.exam.bank`)."""

from __future__ import annotations

from pmle.exam.bank import load_bank, stats
from pmle.exam.blueprints import BLUEPRINTS, DEFAULT, Blueprint, allocate, blueprint
from pmle.exam.items import Item, Problem, check_bank, check_item

__all__ = [
    "BLUEPRINTS",
    "DEFAULT",
    "Blueprint",
    "Item",
    "Problem",
    "allocate",
    "blueprint",
    "check_bank",
    "check_item",
    "load_bank",
    "stats",
]
