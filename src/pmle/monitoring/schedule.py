"""When monitors run: a cron expression (`0 * * * *`) or a fixed interval (`every 6h`).

Vertex AI Model Monitoring runs every 24 hours unless told otherwise; so do monitors here.
Times are UTC.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pmle.errors import InvalidInput

DEFAULT_SCHEDULE = "every 24h"
_EVERY = re.compile(r"^every\s+(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 366 * 86400.0


def check_schedule(text: str) -> str:
    """The schedule normalised; InvalidInput naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a schedule is a cron expression or 'every N[s|m|h|d]'")
    text = " ".join(text.split())
    m = _EVERY.match(text.lower())
    if m:
        seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
        if not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
            raise InvalidInput(f"the interval {text!r} must be between 1 s and 366 days")
        return text.lower()
    from cronsim import CronSim, CronSimError

    try:
        CronSim(text, datetime(2000, 1, 1))
    except (CronSimError, ValueError) as exc:
        raise InvalidInput(
            f"invalid schedule {text!r}: {exc}",
            hint="five cron fields (minute hour day month weekday), e.g. '0 * * * *', "
            "or 'every 6h'",
        )
    return text


def interval_seconds(schedule: str) -> float | None:
    """The seconds between firings of an `every N[s|m|h|d]` schedule (as `check_schedule`
    returns it); None for a cron expression."""
    m = _EVERY.match(schedule)
    return float(m.group(1)) * _UNIT_S[m.group(2)] if m else None


def next_run(schedule: str, after: datetime) -> datetime:
    """The first time strictly after `after` (timezone-aware UTC) when the schedule fires."""
    from datetime import UTC

    seconds = interval_seconds(schedule)
    if seconds is not None:
        return after + timedelta(seconds=seconds)
    from cronsim import CronSim

    naive = after.astimezone(UTC).replace(tzinfo=None)
    return next(CronSim(schedule, naive)).replace(tzinfo=UTC)
