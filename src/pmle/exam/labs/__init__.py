"""Hands-on labs of the exam trainer: one realistic task per section of pmle-v2, each done
with pmle in a workspace of its own, with progressive hints and a checker that inspects the
workspace and says what is still missing.

    ws = start("sql-model", Path("pmle-lab-sql-model"))   # TASK.md, data, marker
    ...                                                   # the user works with pmle there
    for c in check("sql-model", Path("pmle-lab-sql-model")):
        print("✓" if c.passed else "✗", c.name, "—", c.detail)

| lab | section | objectives |
|---|---|---|
| `sql-model` | 1 | 1.1 — a classifier in BigQuery ML statements, evaluated, scoring a table |
| `experiments` | 2 | 2.1, 2.3 — raw and cleaned dataset versions, tracked runs with lineage |
| `tune-register` | 3 | 3.2 — a tuning study, its best model registered as `champion` |
| `canary` | 4 | 4.1 — champion and challenger on one endpoint, 90/10 |
| `cached-pipeline` | 5 | 5.1 — a KFP v2 pipeline run twice, the second from the cache |
| `catch-drift` | 6 | 6.2 — a monitor that alerts on exactly the one drifted feature |
"""

from __future__ import annotations

from pmle.exam.labs.base import Check, Lab
from pmle.exam.labs.catalog import LABS, lab, lab_for
from pmle.exam.labs.folder import check, find_lab_folder, lab_of, reset, start

__all__ = [
    "LABS",
    "Check",
    "Lab",
    "check",
    "find_lab_folder",
    "lab",
    "lab_for",
    "lab_of",
    "reset",
    "start",
]
