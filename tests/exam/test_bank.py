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
