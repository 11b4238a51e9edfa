"""Item statistics on a synthetic attempt history whose answers are known: difficulty,
point-biserial discrimination against the rest score, option choice rates and flags; and the
same figures computed by the trainer from real submitted attempts."""

from __future__ import annotations

import pytest
from scipy import stats as scipy_stats

from pmle.exam.attempts import Trainer
from pmle.exam.item_stats import Response, item_statistics, point_biserial
from pmle.exam.items import Item, Option


def _item(ident: str, key: tuple[str, ...] = ("A",)) -> Item:
    return Item(
        id=ident,
        blueprint="pmle-v2",
        objectives=("1.1",),
        type="single",
        stem="s",
        options=tuple(Option(x, x, x) for x in "ABCD"),
        key=key,
        explanation="e",
        references=("https://cloud.google.com/",),
        difficulty="medium",
        products=(),
        status="reviewed",
    )


def _history() -> tuple[list[list[Response]], dict[str, Item]]:
    """Ten candidates, ranked by ability 0..9, each answering four items plus six fillers:

    - `good`: right for the five strongest; the others choose B, C, C, B, B.
    - `reversed`: right only for the five weakest (a miskeyed item looks like this).
    - `easy`: everyone right.
    - `dead`: nobody chooses D; A (the key) 6 times, B 2, C 2.
    Fillers make stronger candidates score higher."""
    items = {i: _item(i) for i in ("good", "reversed", "easy", "dead")}
    items |= {f"f{n}": _item(f"f{n}") for n in range(6)}
    wrong_good = ["B", "C", "C", "B", "B"]
    dead = ["A", "A", "A", "A", "A", "A", "B", "B", "C", "C"]
    sheets = []
    for ability in range(10):
        strong = ability >= 5
        sheet = [
            Response("good", ("A",) if strong else (wrong_good[ability],), strong),
            Response("reversed", ("A",) if not strong else ("B",), not strong),
            Response("easy", ("A",), True),
            Response("dead", (dead[9 - ability],), dead[9 - ability] == "A"),
        ]
        sheet += [Response(f"f{n}", ("A",), n < ability) for n in range(6)]
        sheets.append(sheet)
    return sheets, items


def test_statistics_on_a_known_history() -> None:
    sheets, items = _history()
    found = {s.item: s for s in item_statistics(sheets, items, min_responses=5)}
    good, reversed_, easy, dead = (found[k] for k in ("good", "reversed", "easy", "dead"))
    assert good.responses == 10 and good.difficulty == 0.5
    assert good.choice_rates == {"A": 0.5, "B": 0.3, "C": 0.2, "D": 0.0}
    # the point-biserial against the rest score equals Pearson's r computed independently
    rest = [(sum(r.correct for r in sheet) - sheet[0].correct) / 9 for sheet in sheets]
    expected = scipy_stats.pearsonr([float(s[0].correct) for s in sheets], rest)[0]
    assert good.discrimination == pytest.approx(expected)
    assert good.discrimination is not None and good.discrimination > 0.3
    assert reversed_.discrimination is not None and reversed_.discrimination < 0
    assert any("negative discrimination" in f for f in reversed_.flags)
    assert easy.difficulty == 1.0 and easy.discrimination is None
    assert any(f.startswith("easy") for f in easy.flags)
    assert dead.choice_rates["D"] == 0.0
    assert any("distractor D not working" in f for f in dead.flags)
    assert not any("distractor" in f for f in good.flags if "B" in f)  # B at 30% works
    assert any("distractor D not working" in f for f in good.flags)


def test_a_distractor_more_popular_than_the_key_is_flagged() -> None:
    items = {"x": _item("x")}
    sheets = [[Response("x", (c,), c == "A")] for c in "BBBBBBAACD"]
    (stats,) = item_statistics(sheets, items, min_responses=5)
    assert stats.difficulty == 0.2
    assert any("distractor B chosen more often than the key" in f for f in stats.flags)


def test_too_few_responses_are_not_judged() -> None:
    sheets, items = _history()
    found = {s.item: s for s in item_statistics(sheets[:4], items, min_responses=5)}
    assert found["easy"].flags == []
    reports = {"easy": 2}
    flagged = {s.item: s for s in item_statistics(sheets[:4], items, reports=reports)}
    assert flagged["easy"].flags == ["2 open problem report(s)"]


def test_point_biserial_edge_cases() -> None:
    assert point_biserial([1.0], [0.5]) is None
    assert point_biserial([1.0, 1.0], [0.2, 0.8]) is None
    assert point_biserial([0.0, 1.0], [0.2, 0.8]) == pytest.approx(1.0)


def test_the_trainer_computes_them_from_submitted_exams(trainer: Trainer) -> None:
    """Five candidates sit the same form; the first two items are answered in a known way."""
    forms = []
    for n in range(5):
        attempt = trainer.start_exam(length=50, seed=42)
        forms.append(attempt)
        for q in attempt.questions[: 10 * n]:  # candidate n knows 10·n items
            attempt.answer(q.position, q.item.key)
        attempt.submit()
    trainer.start_exam(length=50, seed=42)  # open: not counted
    # unseen items come first, so later forms differ; compare items shared by all five
    shared = set.intersection(*({q.item.id for q in a.questions} for a in forms))
    found = {s.item: s for s in trainer.item_statistics(min_responses=5)}
    assert shared
    for item_id in shared:
        assert found[item_id].responses == 5
    assert all(0.0 <= s.difficulty <= 1.0 for s in found.values())
    counted = sum(s.responses for s in found.values())
    assert counted == 5 * 50
    report = trainer.report(
        forms[0].questions[0].item.id, "two answers are right", kind="wrong-key"
    )
    again = {s.item: s for s in trainer.item_statistics()}
    assert "1 open problem report(s)" in again[report.item].flags
