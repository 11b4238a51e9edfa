"""Forms: allocation by section, objectives spread, unseen items first, stable shuffles; and
exact-set scoring."""

from __future__ import annotations

import pytest

from pmle.errors import InvalidInput
from pmle.exam.blueprints import blueprint
from pmle.exam.forms import assemble, option_order, score
from pmle.exam.items import Item, Option


def _item(
    ident: str, objective: str, key: tuple[str, ...] = ("A",), status: str = "reviewed"
) -> Item:
    return Item(
        id=ident,
        blueprint="pmle-v2",
        objectives=(objective,),
        type="single" if len(key) == 1 else "multiple",
        stem=f"stem of {ident}",
        options=tuple(Option(letter, f"option {letter}", "why") for letter in "ABCD"),
        key=key,
        explanation="because",
        references=("https://cloud.google.com/vertex-ai/docs",),
        difficulty="medium",
        products=(),
        status=status,
        choose=len(key),
    )


@pytest.fixture(scope="module")
def bank() -> list[Item]:
    """10 reviewed items per v2 objective (and a few drafts, never used)."""
    items = [_item(f"{o.id}-{n:02d}", o.id) for o in blueprint().objectives for n in range(10)]
    return items + [_item(f"draft-{n}", "1.1", status="draft") for n in range(5)]


def test_a_form_follows_the_blueprint(bank: list[Item]) -> None:
    bp = blueprint("pmle-v2")
    form = assemble(bp, bank, 60, seed=7)
    assert len(form.items) == 60 and len({i.id for i in form.items}) == 60
    per_section: dict[int, int] = {}
    for item in form.items:
        number = bp.section_of(item.objectives[0]).number
        per_section[number] = per_section.get(number, 0) + 1
    assert [per_section[n] for n in range(1, 7)] == [7, 10, 11, 11, 13, 8]
    assert not any(i.id.startswith("draft") for i in form.items)
    # every objective is represented, spread within its section
    assert {i.objectives[0] for i in form.items} == {o.id for o in bp.objectives}
    # the same seed gives the same form; another seed another one
    assert [i.id for i in assemble(bp, bank, 60, seed=7).items] == [i.id for i in form.items]
    assert [i.id for i in assemble(bp, bank, 60, seed=8).items] != [i.id for i in form.items]
    assert len(assemble(bp, bank, 50, seed=1).items) == 50


def test_unseen_items_come_first(bank: list[Item]) -> None:
    bp = blueprint()
    first = assemble(bp, bank, 60, seed=1)
    seen = {i.id for i in first.items}
    second = assemble(bp, bank, 60, seed=2, seen=seen)
    used = {i.id for i in second.items}
    for objective in {i.objectives[0] for i in second.items}:
        pool = [i.id for i in bank if i.objectives[0] == objective and i.status == "reviewed"]
        if used & seen & set(pool):  # a seen item only once every unseen one is used
            assert set(pool) - seen <= used
    assert len(used - seen) > len(used & seen)


def test_not_enough_items(bank: list[Item]) -> None:
    few = [i for i in bank if not i.objectives[0].startswith("5")][:30]
    with pytest.raises(InvalidInput, match=r"needs \d+ reviewed items; the bank has"):
        assemble(blueprint(), few, 60, seed=1)
    with pytest.raises(InvalidInput, match="not 40"):
        assemble(blueprint(), bank, 40)


def test_option_order_is_stable_per_attempt(bank: list[Item]) -> None:
    item = bank[0]
    orders = {tuple(option_order(item, seed)) for seed in range(20)}
    assert len(orders) > 1  # shuffled
    assert option_order(item, 5) == option_order(item, 5)  # and the same on resume
    assert sorted(option_order(item, 5)) == ["A", "B", "C", "D"]


def test_exact_set_scoring() -> None:
    bp = blueprint()
    items = [
        _item("one", "1.1", ("A",)),
        _item("two", "1.1", ("B", "C")),
        _item("three", "6.2", ("D",)),
        _item("four", "6.2", ("A", "B")),
    ]
    result = score(bp, items, {"one": ["A"], "two": ["B"], "three": ["D"], "four": ["A", "B", "C"]})
    assert (result.correct, result.total, result.answered) == (2, 4, 4)
    assert result.wrong == ["two", "four"]  # part of a set, or too many, is wrong
    assert result.by_section == {1: (1, 2), 6: (1, 2)}
    assert result.by_objective == {"1.1": (1, 2), "6.2": (1, 2)}
    assert result.percent == 50.0
    assert "not an official pass mark" in result.readiness
    empty = score(bp, items, {})
    assert empty.answered == 0 and empty.correct == 0
