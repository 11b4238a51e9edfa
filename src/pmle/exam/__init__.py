"""The exam trainer: blueprints (:mod:`pmle.exam.blueprints`), items and their validator
(:mod:`pmle.exam.items`), the question bank (:mod:`pmle.exam.bank`), forms and scoring
(:mod:`pmle.exam.forms`), attempts in exam and practice mode (:mod:`pmle.exam.attempts`,
`ws.exam`), spaced repetition (:mod:`pmle.exam.srs`), item statistics
(:mod:`pmle.exam.item_stats`), product names across renames (:mod:`pmle.exam.aliases`) and
hands-on labs (:mod:`pmle.exam.labs`)."""

from __future__ import annotations

from pmle.exam.attempts import Attempt, Trainer
from pmle.exam.bank import load_bank, stats
from pmle.exam.blueprints import BLUEPRINTS, DEFAULT, Blueprint, allocate, blueprint
from pmle.exam.forms import Form, Score, assemble, option_order, score
from pmle.exam.items import Item, Problem, check_bank, check_item

__all__ = [
    "BLUEPRINTS",
    "DEFAULT",
    "Attempt",
    "Blueprint",
    "Form",
    "Item",
    "Problem",
    "Score",
    "Trainer",
    "allocate",
    "assemble",
    "blueprint",
    "check_bank",
    "check_item",
    "load_bank",
    "option_order",
    "score",
    "stats",
]
