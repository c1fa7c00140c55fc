"""Usage periods: the bounds within which graduated tier positions accumulate (`docs/pricing.md`).

Without a subscription a connection's period is the calendar month in UTC; with one, it is the
subscription's billing period (`usage_period`)."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone
from typing import Literal


def calendar_period(now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar month holding `now`: (start, next start)."""
    now = now.astimezone(timezone.utc)
    start = datetime(now.year, now.month, 1, tzinfo=timezone.utc)
    if now.month == 12:
        end = datetime(now.year + 1, 1, 1, tzinfo=timezone.utc)
    else:
        end = datetime(now.year, now.month + 1, 1, tzinfo=timezone.utc)
    return start, end


def cycle_start(started_at: datetime, index: int) -> datetime:
    """The start of period `index` (0 = `started_at`) of a subscription cycle: the same time of
    day, `index` months later, on the day of month of `started_at` clamped to the month's length
    (a cycle started Jan 31 renews Feb 28 or 29, then Mar 31)."""
    started_at = started_at.astimezone(timezone.utc)
    months = started_at.month - 1 + index
    year, month = started_at.year + months // 12, months % 12 + 1
    day = min(started_at.day, calendar.monthrange(year, month)[1])
    return started_at.replace(year=year, month=month, day=day)


def cycle_period(started_at: datetime, now: datetime) -> tuple[int, datetime, datetime]:
    """The period of the cycle that holds `now` (the first one if `now` is before it):
    (index, start, next start)."""
    now = now.astimezone(timezone.utc)
    started_at = started_at.astimezone(timezone.utc)
    index = max(0, (now.year - started_at.year) * 12 + now.month - started_at.month)
    while index > 0 and cycle_start(started_at, index) > now:
        index -= 1
    while cycle_start(started_at, index + 1) <= now:
        index += 1
    return index, cycle_start(started_at, index), cycle_start(started_at, index + 1)


def usage_period(
    now: datetime, cycle_started_at: datetime | None, cycle_ends_at: datetime | None
) -> tuple[datetime, datetime]:
    """A wallet's usage period at `now`: its subscription cycle's period while the
    cycle runs (from `cycle_started_at` until `cycle_ends_at`, open-ended while the subscription
    is active), else the calendar month in UTC, which starts at `cycle_ends_at` in the month a
    cycle ended."""
    if (
        cycle_started_at is not None
        and cycle_started_at <= now
        and (cycle_ends_at is None or now < cycle_ends_at)
    ):
        _, start, end = cycle_period(cycle_started_at, now)
        return start, end
    start, end = calendar_period(now)
    if cycle_ends_at is not None and start < cycle_ends_at <= now:
        start = cycle_ends_at
    return start, end


_DAYS = {"day": 1, "week": 7}


def interval_start(started_at: datetime, index: int, interval: str) -> datetime:
    """The start of period `index` of a plan renewing every `interval` (`day`, `week`,
    `month`, `year`): months and years as `cycle_start`, days and weeks exactly."""
    if interval in _DAYS:
        return started_at.astimezone(timezone.utc) + timedelta(days=_DAYS[interval] * index)
    return cycle_start(started_at, index * (12 if interval == "year" else 1))


def interval_index(started_at: datetime, now: datetime, interval: str) -> int:
    """The index of the period of a plan renewing every `interval` that holds `now`."""
    if interval in _DAYS:
        days = (now - started_at) // timedelta(days=_DAYS[interval])
        return max(0, days)
    index = cycle_period(started_at, now)[0]
    return index // 12 if interval == "year" else index


LimitCycle = Literal["daily", "weekly", "monthly", "total"]
"""The cycle of a spend key's limit (`docs/current-api.md#spend-keys`)."""


def limit_cycle_start(cycle: LimitCycle, now: datetime) -> datetime | None:
    """The start of the cycle holding `now`: midnight UTC (`daily`), Monday 00:00 UTC (`weekly`,
    the ISO week), the 1st of the month 00:00 UTC (`monthly`); None for `total`, which never
    resets."""
    now = now.astimezone(timezone.utc)
    midnight = datetime(now.year, now.month, now.day, tzinfo=timezone.utc)
    if cycle == "daily":
        return midnight
    if cycle == "weekly":
        return midnight - timedelta(days=now.weekday())
    if cycle == "monthly":
        return calendar_period(now)[0]
    return None


def limit_cycle_is_stale(cycle: LimitCycle, last_reset: datetime, now: datetime) -> bool:
    """Whether counters last reset at `last_reset` belong to an earlier cycle than `now`'s: then
    they count as zero, and the next write starts the cycle afresh (no job runs at the boundary).
    `total` is never stale."""
    start = limit_cycle_start(cycle, now)
    return start is not None and last_reset.astimezone(timezone.utc) < start


def limit_cycle_end(cycle: LimitCycle, now: datetime) -> datetime | None:
    """When the cycle holding `now` ends (the next one starts); None for `total`."""
    start = limit_cycle_start(cycle, now)
    if start is None:
        return None
    if cycle == "daily":
        return start + timedelta(days=1)
    if cycle == "weekly":
        return start + timedelta(days=7)
    return calendar_period(now)[1]
