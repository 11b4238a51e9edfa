"""Lab catch-drift: the planted day of traffic, a monitor at the default threshold (misses the
drift), one at 0 (alerts on everything), a run that does not cover the day, and the team's
threshold over the day, which passes."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pmle.exam import labs
from pmle.exam.labs import drift
from pmle.exam.labs.folder import read_marker


@pytest.fixture(autouse=True)
def _no_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    from pmle.monitoring import run_monitor

    monkeypatch.setattr(run_monitor, "LOG_SETTLE_S", 0.0)


def test_catch_drift_lab(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    ws = labs.start("catch-drift", folder)
    facts = read_marker(folder)["facts"]  # type: ignore[index]
    logged = ws.sql(
        "SELECT count(*) AS n, min(time) AS first FROM prediction_log WHERE endpoint = 'fraud'"
    ).to_pylist()[0]
    assert logged["n"] == drift.TRAFFIC_ROWS
    start = datetime.fromisoformat(facts["traffic_start"])
    assert logged["first"] == start
    fresh = labs.check("catch-drift", folder)
    assert [c.passed for c in fresh] == [False] * 4
    assert "pmle monitors create" in fresh[0].detail

    # the first run of a new monitor starts at its creation: the day is not in its window
    ws.monitors.create("late", endpoint="fraud", schedule=None, default_threshold=0.1)
    assert ws.monitors.run("late", report=False).rows == 0
    late = labs.check("catch-drift", folder)
    assert [c.passed for c in late] == [True, False, False, False]
    assert "--start" in late[1].detail

    before = start - timedelta(minutes=5)
    ws.monitors.create("lax", endpoint="fraud", schedule=None)  # Vertex's default, 0.3
    lax = ws.monitors.run("lax", start=before, report=False)
    assert lax.rows == drift.TRAFFIC_ROWS and not lax.alerts
    missed = labs.check("catch-drift", folder)
    assert [c.passed for c in missed] == [True, True, False, True]
    assert "its distance was 0.2" in missed[2].detail

    ws.monitors.create("noisy", endpoint="fraud", schedule=None, default_threshold=0.0)
    noisy = ws.monitors.run("noisy", start=before, report=False)
    assert {a["feature"] for a in noisy.alerts} == set(drift.FEATURES)
    assert not labs.check("catch-drift", folder)[3].passed

    ws.monitors.create("watch", endpoint="fraud", schedule=None, default_threshold=0.1)
    caught = ws.monitors.run("watch", start=before, report=False)
    assert {a["feature"] for a in caught.alerts} == {"amount"}
    solved = labs.check("catch-drift", folder)
    assert all(c.passed for c in solved), solved
    assert f"run {caught.id}" in solved[2].detail
    ws.close()
