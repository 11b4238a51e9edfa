"""The labs as data: one per section, lookup by id, the lab of every pmle-v2 objective."""

from __future__ import annotations

import pytest

from pmle.errors import NotFound
from pmle.exam.blueprints import blueprint
from pmle.exam.labs import LABS, Lab, lab, lab_for
from pmle.exam.labs.base import render_task


def test_one_lab_per_section_with_hints_and_criteria() -> None:
    assert sorted(x.section for x in LABS.values()) == [1, 2, 3, 4, 5, 6]
    bp = blueprint("pmle-v2")
    for lab_id, found in LABS.items():
        assert isinstance(found, Lab) and found.id == lab_id
        # its objectives belong to its section
        assert all(bp.section_of(o).number == found.section for o in found.objectives)
        assert len(found.hints) >= 3 and "## Success criteria" in found.task
        text = render_task(found)
        assert text.startswith(f"# Lab {lab_id}:") and f"pmle lab check {lab_id}" in text


def test_lab_by_id() -> None:
    assert lab("canary").section == 4
    with pytest.raises(NotFound, match="no lab 'nope'") as err:
        lab("nope")
    assert err.value.hint is not None and "sql-model" in err.value.hint


@pytest.mark.parametrize("objective", [o.id for o in blueprint("pmle-v2").objectives])
def test_every_objective_has_a_lab_of_its_section(objective: str) -> None:
    found = lab_for(objective)
    assert found is not None
    assert found.section == blueprint("pmle-v2").section_of(objective).number


def test_objectives_a_lab_lists_map_to_it() -> None:
    assert lab_for("1.1") is LABS["sql-model"]
    assert lab_for("2.1") is lab_for("2.3") is LABS["experiments"]
    assert lab_for("3.2") is LABS["tune-register"]
    assert lab_for("6.2") is LABS["catch-drift"]
    assert lab_for("9.9") is None
