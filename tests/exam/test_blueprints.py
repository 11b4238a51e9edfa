"""Blueprints: allocation by largest remainder for every blueprint and both form lengths."""

from __future__ import annotations

import pytest

from pmle.errors import InvalidInput, NotFound
from pmle.exam.blueprints import BLUEPRINTS, allocate, blueprint

EXPECTED = {
    ("pmle-v2", 50): [6, 8, 9, 10, 10, 7],  # sections 4 and 5 tie at .5: the earlier gets it
    ("pmle-v2", 60): [7, 10, 11, 11, 13, 8],
    ("pmle-v3.1", 50): [7, 7, 9, 10, 11, 6],
    ("pmle-v3.1", 60): [8, 8, 11, 12, 13, 8],
    ("pmle-2026-06", 50): [7, 8, 10, 10, 9, 6],
    ("pmle-2026-06", 60): [8, 9, 12, 12, 11, 8],
}


@pytest.mark.parametrize(("name", "length"), list(EXPECTED))
def test_allocation(name: str, length: int) -> None:
    bp = blueprint(name)
    counts = allocate(bp, length)
    assert list(counts.values()) == EXPECTED[(name, length)]
    assert sum(counts.values()) == length
    # the June 2026 weights, as transcribed, add up to 101: allocation normalises them, and
    # the blueprint says it is unverified
    assert sum(s.weight for s in bp.sections) == (100 if bp.verified else 101)


def test_blueprints_as_data() -> None:
    v2 = blueprint()
    assert v2.id == "pmle-v2" and len(v2.sections) == 6
    assert [o.id for o in v2.objectives] == [
        "1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3.1", "3.2", "3.3",
        "4.1", "4.2", "5.1", "5.2", "5.3", "6.1", "6.2",
    ]  # fmt: skip
    assert v2.section_of("4.2").number == 4
    assert not BLUEPRINTS["pmle-2026-06"].verified  # says so until checked
    with pytest.raises(NotFound):
        blueprint("pmle-v9")
    with pytest.raises(InvalidInput, match="at least 6 questions"):
        allocate(v2, 5)
