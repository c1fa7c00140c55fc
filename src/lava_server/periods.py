"""Usage periods: the bounds within which graduated tier positions accumulate (`api.md` 5).

Without a subscription a connection's period is the calendar month in UTC."""

from __future__ import annotations

from datetime import datetime, timezone


def calendar_period(now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar month holding `now`: (start, next start)."""
    now = now.astimezone(timezone.utc)
    start = datetime(now.year, now.month, 1, tzinfo=timezone.utc)
    if now.month == 12:
        end = datetime(now.year + 1, 1, 1, tzinfo=timezone.utc)
    else:
        end = datetime(now.year, now.month + 1, 1, tzinfo=timezone.utc)
    return start, end
