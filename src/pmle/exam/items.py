"""Exam items as data (YAML), and the validator every item passes before it enters the bank.

    id: v2-3.2-0001
    blueprint: pmle-v2
    objectives: ["3.2"]
    type: single                      # or multiple, with `choose: 2`
    stem: >-
      A retailer trains … What should you do?
    options:
      - {id: A, text: "…", feedback: "…"}
      - …                             # 4 to 6 options
    key: [B]
    explanation: "…"
    references: ["https://cloud.google.com/vertex-ai/docs/…"]
    difficulty: medium                # easy | medium | hard
    products: ["Vertex AI Pipelines"]
    status: reviewed                  # draft | reviewed | retired
    author: …
    reviewer: …                       # someone other than the author
    reviewed_on: 2026-11-27

The floors come from the writing guide: a stem of at least 50 words, options of at least 8,
a reading load (stem and options) of at least 130; feedback on every option; public
documentation as references; no negative stems or "all / none of the above".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pmle.exam.blueprints import BLUEPRINTS

__all__ = ["FLOORS", "Item", "Option", "Problem", "check_bank", "check_item", "parse_item"]

FLOORS = {"stem_words": 50, "option_words": 8, "reading_words": 130, "feedback_words": 8}
STATUSES = ("draft", "reviewed", "retired")
DIFFICULTIES = ("easy", "medium", "hard")
_NEGATIVE = re.compile(r"\b(NOT|EXCEPT)\b")
_ALL_NONE = re.compile(r"\b(all|none) of the above\b", re.IGNORECASE)
_CHOOSE = re.compile(r"\bChoose (two|three|four|2|3|4)\b", re.IGNORECASE)
_NUMBERS = {"two": 2, "three": 3, "four": 4, "2": 2, "3": 3, "4": 4}


@dataclass(frozen=True)
class Option:
    id: str
    text: str
    feedback: str


@dataclass(frozen=True)
class Item:
    id: str
    blueprint: str
    objectives: tuple[str, ...]
    type: str
    stem: str
    options: tuple[Option, ...]
    key: tuple[str, ...]
    explanation: str
    references: tuple[str, ...]
    difficulty: str
    products: tuple[str, ...]
    status: str
    author: str = ""
    reviewer: str = ""
    reviewed_on: str = ""
    choose: int = 1


@dataclass(frozen=True)
class Problem:
    item: str
    message: str

    def __str__(self) -> str:
        return f"{self.item}: {self.message}"


def _words(text: str) -> int:
    return len(text.split())


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


def parse_item(data: Mapping[str, Any]) -> tuple[Item | None, list[Problem]]:
    """An Item from its YAML mapping, or None and what is wrong with its shape."""
    ident = str(data.get("id") or "?")
    problems: list[Problem] = []
    required = ("id", "objectives", "type", "stem", "options", "key", "explanation", "references")
    for name in required:
        if not data.get(name):
            problems.append(Problem(ident, f"missing {name}"))
    options_raw = data.get("options") or []
    options: list[Option] = []
    if not isinstance(options_raw, list):
        problems.append(Problem(ident, "options must be a list"))
        options_raw = []
    for n, raw in enumerate(options_raw):
        if not isinstance(raw, Mapping):
            problems.append(Problem(ident, f"option {n + 1} must be a mapping"))
            continue
        options.append(
            Option(str(raw.get("id", "")), str(raw.get("text", "")), str(raw.get("feedback", "")))
        )
    if problems:
        return None, problems
    choose = data.get("choose", 1)
    item = Item(
        id=ident,
        blueprint=str(data.get("blueprint", "pmle-v2")),
        objectives=_strings(data["objectives"]),
        type=str(data["type"]),
        stem=str(data["stem"]),
        options=tuple(options),
        key=_strings(data["key"]),
        explanation=str(data["explanation"]),
        references=_strings(data["references"]),
        difficulty=str(data.get("difficulty", "medium")),
        products=_strings(data.get("products", [])),
        status=str(data.get("status", "draft")),
        author=str(data.get("author", "")),
        reviewer=str(data.get("reviewer", "")),
        reviewed_on=str(data.get("reviewed_on", "")),
        choose=int(choose) if isinstance(choose, int) and not isinstance(choose, bool) else -1,
    )
    return item, []


def check_item(item: Item) -> list[Problem]:
    """Everything wrong with one item (empty when it may enter the bank)."""
    out: list[Problem] = []

    def bad(message: str) -> None:
        out.append(Problem(item.id, message))

    bp = BLUEPRINTS.get(item.blueprint)
    if bp is None:
        bad(f"unknown blueprint {item.blueprint!r}")
    else:
        known = {o.id for o in bp.objectives}
        for objective in item.objectives:
            if objective not in known:
                bad(f"objective {objective!r} is not in {bp.id}")
    ids = [o.id for o in item.options]
    if not 4 <= len(ids) <= 6:
        bad(f"{len(ids)} options: an item has 4 to 6")
    if len(set(ids)) != len(ids) or not all(re.fullmatch(r"[A-F]", i) for i in ids):
        bad("options need distinct ids A–F")
    for key in item.key:
        if key not in ids:
            bad(f"the key {key!r} is not an option")
    if len(set(item.key)) != len(item.key):
        bad("the key lists an option twice")
    asked = _CHOOSE.search(item.stem)
    if item.type == "single":
        if len(item.key) != 1:
            bad(f"a single-answer item has one key, not {len(item.key)}")
        if asked:
            bad("a single-answer stem asks to choose several")
    elif item.type == "multiple":
        if item.choose < 2:
            bad("a multiple-select item says how many to choose (choose: 2 or more)")
        elif len(item.key) != item.choose:
            bad(f"the key has {len(item.key)} options; the item says choose {item.choose}")
        if not asked or _NUMBERS[asked.group(1).lower()] != item.choose:
            bad(f'the stem must end by asking to choose {item.choose} ("Choose two.")')
        if item.choose >= len(ids):
            bad("a multiple-select item keeps at least one wrong option")
    else:
        bad(f"type {item.type!r}: single or multiple")
    if _words(item.stem) < FLOORS["stem_words"]:
        bad(f"the stem has {_words(item.stem)} words; a scenario needs {FLOORS['stem_words']}")
    reading = _words(item.stem) + sum(_words(o.text) for o in item.options)
    if reading < FLOORS["reading_words"]:
        bad(f"reading load {reading} words, below {FLOORS['reading_words']}")
    for option in item.options:
        if _words(option.text) < FLOORS["option_words"]:
            bad(f"option {option.id} is {_words(option.text)} words: write a complete action")
        if _words(option.feedback) < FLOORS["feedback_words"]:
            bad(f"option {option.id} has no real feedback")
        if _ALL_NONE.search(option.text):
            bad(f"option {option.id} is 'all / none of the above'")
    if _NEGATIVE.search(item.stem):
        bad("negative stem (NOT / EXCEPT): ask for the right action instead")
    if not item.explanation.strip():
        bad("no explanation")
    if not item.references:
        bad("no references")
    for url in item.references:
        if not re.match(r"https://[\w.-]+\.[a-z]{2,}/", url):
            bad(f"reference {url!r} is not a public https page")
    if item.difficulty not in DIFFICULTIES:
        bad(f"difficulty {item.difficulty!r}: easy, medium or hard")
    if item.status not in STATUSES:
        bad(f"status {item.status!r}: draft, reviewed or retired")
    if item.status == "reviewed":
        if not item.reviewer or not item.reviewed_on:
            bad("a reviewed item names its reviewer and review date")
        elif item.reviewer == item.author:
            bad("an item is reviewed by someone other than its author")
    return out


def _normal(stem: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", "", stem.lower()).split())


def check_bank(raw_items: Iterable[Mapping[str, Any]]) -> tuple[list[Item], list[Problem]]:
    """Parse and check every item, then the bank: duplicate ids and duplicate stems."""
    items: list[Item] = []
    problems: list[Problem] = []
    for data in raw_items:
        item, shape = parse_item(data)
        problems.extend(shape)
        if item is not None:
            problems.extend(check_item(item))
            items.append(item)
    seen_ids: dict[str, int] = {}
    seen_stems: dict[str, str] = {}
    for item in items:
        seen_ids[item.id] = seen_ids.get(item.id, 0) + 1
        stem = _normal(item.stem)
        if stem in seen_stems and seen_stems[stem] != item.id:
            problems.append(Problem(item.id, f"same stem as {seen_stems[stem]}"))
        seen_stems.setdefault(stem, item.id)
    for ident, count in seen_ids.items():
        if count > 1:
            problems.append(Problem(ident, f"id used {count} times"))
    return items, problems
