"""When pipeline schedules fire: cron and interval grids walked from a start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pmle.pipelines.firings import first_firing, following, latest_due, next_after


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2030, 1, 1, hour, minute, second, tzinfo=UTC)


def test_cron_grid() -> None:
    assert first_firing("0 * * * *", at(10)) == at(10)  # a start on a cron time fires
    assert first_firing("0 * * * *", at(10, 0, 1)) == at(11)
    assert following("0 * * * *", at(10)) == at(11)
    assert latest_due("0 * * * *", at(10), at(13, 30)) == at(13)
    assert latest_due("0 * * * *", at(10), at(10, 59)) == at(10)
    assert next_after("0 * * * *", at(10), at(13, 30)) == at(14)
    assert next_after("0 * * * *", at(15), at(13, 30)) == at(15)


def test_interval_grid_keeps_its_anchor() -> None:
    start = at(10, 0, 30)
    assert first_firing("every 1h", start) == at(11, 0, 30)
    assert following("every 1h", at(11, 0, 30)) == at(12, 0, 30)
    assert latest_due("every 1h", at(11, 0, 30), at(14, 10)) == at(14, 0, 30)
    assert next_after("every 1h", at(11, 0, 30), at(14, 10)) == at(15, 0, 30)
    assert next_after("every 1h", at(11, 0, 30), at(11, 0, 30)) == at(12, 0, 30)
    assert latest_due("every 30s", at(0), at(0) + timedelta(days=400)) == at(0) + timedelta(
        days=400
    )
