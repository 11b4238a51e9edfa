"""When a pipeline schedule fires: the times of a cron expression (UTC) or of `every N[s|m|h|d]`
(see :mod:`pmle.monitoring.schedule`, which parses both), walked from a start time.

A cron schedule fires at its cron times at or after the start; an interval schedule at
`start + N`, `start + 2N`, ... (the first interval elapses first, as for monitors). Each next
time is computed from the previous firing, never from the clock, so a late scheduler keeps
the grid.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from pmle.monitoring.schedule import interval_seconds, next_run

__all__ = ["first_firing", "following", "latest_due", "next_after"]

_TICK = timedelta(microseconds=1)


def first_firing(schedule: str, start: datetime) -> datetime:
    """The first firing at or after `start` (for an interval: one interval after it)."""
    if interval_seconds(schedule) is not None:
        return next_run(schedule, start)
    return next_run(schedule, start - _TICK)


def following(schedule: str, at: datetime) -> datetime:
    """The firing after the one at `at`."""
    return next_run(schedule, at)


def latest_due(schedule: str, cursor: datetime, bound: datetime) -> datetime:
    """The newest firing on the grid through `cursor` (a firing, at most `bound`) that is not
    after `bound`."""
    seconds = interval_seconds(schedule)
    if seconds is not None:
        steps = math.floor((bound - cursor).total_seconds() / seconds)
        return cursor + timedelta(seconds=seconds * max(steps, 0))
    from cronsim import CronSim

    naive = bound.astimezone(UTC).replace(tzinfo=None) + _TICK
    previous = next(CronSim(schedule, naive, reverse=True)).replace(tzinfo=UTC)
    return max(previous, cursor)


def next_after(schedule: str, cursor: datetime, now: datetime) -> datetime:
    """The first firing on the grid through `cursor` that is after `now` (`cursor` itself when
    it is)."""
    if cursor > now:
        return cursor
    seconds = interval_seconds(schedule)
    if seconds is not None:
        steps = math.floor((now - cursor).total_seconds() / seconds) + 1
        return cursor + timedelta(seconds=seconds * steps)
    return next_run(schedule, now)
