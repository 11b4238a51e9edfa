"""The labs, in section order: looked up by id, and by the objective they practise."""

from __future__ import annotations

from typing import cast

from pmle.errors import NotFound
from pmle.exam.labs import canary, drift, experiments, pipeline, sql_model, tuning
from pmle.exam.labs.base import Lab, LabModule

__all__ = ["LABS", "lab", "lab_for", "module_of"]

_MODULES: dict[str, LabModule] = {
    m.LAB.id: cast(LabModule, m) for m in (sql_model, experiments, tuning, canary, pipeline, drift)
}

#: Every lab by id, in section order.
LABS: dict[str, Lab] = {lab_id: m.LAB for lab_id, m in _MODULES.items()}


def lab(lab_id: str) -> Lab:
    """The lab with this id; NotFound (listing the ids) otherwise."""
    found = LABS.get(lab_id)
    if found is None:
        raise NotFound(f"no lab {lab_id!r}", hint="labs: " + ", ".join(LABS))
    return found


def module_of(lab_id: str) -> LabModule:
    """The module holding a lab's setup and checker."""
    lab(lab_id)
    return _MODULES[lab_id]


def lab_for(objective: str) -> Lab | None:
    """The lab practising a pmle-v2 objective (e.g. "3.2"); for an objective no lab lists,
    its section's lab; None for an objective the blueprint does not know."""
    from pmle.exam.blueprints import blueprint

    for candidate in LABS.values():
        if objective in candidate.objectives:
            return candidate
    try:
        section = blueprint("pmle-v2").section_of(objective)
    except NotFound:
        return None
    return next((c for c in LABS.values() if c.section == section.number), None)
