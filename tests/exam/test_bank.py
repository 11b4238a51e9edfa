"""The question bank shipped with pmle: every file loads and every item validates."""

from __future__ import annotations

from pmle.exam.bank import bank_files, load_bank, stats
from pmle.exam.blueprints import blueprint


def test_the_whole_bank_validates() -> None:
    items, problems = load_bank()
    assert [str(p) for p in problems] == []
    assert len(items) == sum(1 for _ in items)  # loaded in full
    summary = stats(items)
    known = {o.id for o in blueprint().objectives}
    assert set(summary["by_objective"]) <= known
    assert summary["items"] == sum(1 for i in items if i.status != "retired")
    for path in bank_files():  # shipped as package data
        assert path.suffix == ".yaml"


def test_the_bank_meets_its_content_targets() -> None:
    """At least 240 reviewed pmle-v2 items; every objective with at least 8; sections within
    two points of their weights; 8–15% multiple-select; reviewers other than authors; single
    answers balanced over A–D; the key rarely the longest option."""
    items, _ = load_bank()
    bp = blueprint("pmle-v2")
    live = [i for i in items if i.status == "reviewed" and i.blueprint == bp.id]
    assert len(live) >= 240
    per_objective = {o.id: 0 for o in bp.objectives}
    for item in live:
        per_objective[item.objectives[0]] += 1
    assert min(per_objective.values()) >= 8, per_objective
    for section in bp.sections:
        count = sum(per_objective[o.id] for o in section.objectives)
        assert abs(100 * count / len(live) - section.weight) <= 2, (section.number, count)
    multiple = sum(i.type == "multiple" for i in live) / len(live)
    assert 0.08 <= multiple <= 0.15
    assert all(i.reviewer and i.reviewer != i.author for i in live)
    singles = [i for i in live if i.type == "single"]
    for letter in "ABCD":
        share = sum(i.key[0] == letter for i in singles) / len(singles)
        assert abs(share - 0.25) <= 0.05, (letter, share)
    longest = 0
    for item in live:
        words = {o.id: len(o.text.split()) for o in item.options}
        top = max(words.values())
        if any(words[k] == top for k in item.key) and list(words.values()).count(top) == 1:
            longest += 1
    assert longest / len(live) <= 0.30
