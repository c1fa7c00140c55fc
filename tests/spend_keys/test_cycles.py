"""The cycles of spend-key limits (`docs/current-api.md#spend-keys`), a pure function of the last
reset and now: UTC day, ISO week from Monday, calendar month, and `total`, which never resets."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lava_server.periods import LimitCycle, limit_cycle_is_stale, limit_cycle_start

UTC = timezone.utc
CYCLES: list[LimitCycle] = ["daily", "weekly", "monthly", "total"]


def at(*parts: int, tz: timezone = UTC) -> datetime:
    return datetime(*parts, tzinfo=tz)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("cycle", "now", "start"),
    [
        ("daily", at(2026, 12, 7, 0, 0, 0), at(2026, 12, 7)),
        ("daily", at(2026, 12, 7, 23, 59, 59), at(2026, 12, 7)),
        ("weekly", at(2026, 12, 7, 12), at(2026, 12, 7)),  # a Monday
        ("weekly", at(2026, 12, 13, 23, 59), at(2026, 12, 7)),  # the Sunday after
        ("weekly", at(2027, 1, 1), at(2026, 12, 28)),  # a week across the new year
        ("monthly", at(2026, 2, 28, 23), at(2026, 2, 1)),
        ("monthly", at(2028, 2, 29, 12), at(2028, 2, 1)),
        ("monthly", at(2026, 12, 31, 23, 59), at(2026, 12, 1)),
        ("total", at(2026, 12, 7), None),
    ],
)
def test_the_start_of_the_cycle(cycle: LimitCycle, now: datetime, start: datetime | None) -> None:
    assert limit_cycle_start(cycle, now) == start


def test_boundaries_are_in_utc_whatever_the_zone_of_the_times() -> None:
    tokyo = timezone(timedelta(hours=9))
    # 08:00 Monday in Tokyo is still Sunday 23:00 UTC.
    now = at(2026, 12, 7, 8, tz=tokyo)
    assert limit_cycle_start("daily", now) == at(2026, 12, 6)
    assert limit_cycle_start("weekly", now) == at(2026, 11, 30)
    assert not limit_cycle_is_stale("daily", at(2026, 12, 6, 1), now)
    assert limit_cycle_is_stale("daily", at(2026, 12, 6, 9, tz=tokyo), at(2026, 12, 7, 9, tz=tokyo))


@pytest.mark.parametrize(
    ("cycle", "last_reset", "now", "stale"),
    [
        ("daily", at(2026, 12, 6, 23, 59, 59), at(2026, 12, 7), True),
        ("daily", at(2026, 12, 7), at(2026, 12, 7, 23, 59, 59), False),
        ("weekly", at(2026, 12, 6, 23, 59), at(2026, 12, 7, 0, 0, 1), True),  # Sun -> Mon
        ("weekly", at(2026, 12, 7), at(2026, 12, 13, 23), False),  # Mon -> Sun
        ("weekly", at(2026, 11, 1), at(2026, 12, 7), True),
        ("monthly", at(2026, 11, 30, 23, 59), at(2026, 12, 1), True),
        ("monthly", at(2026, 12, 1), at(2026, 12, 31, 23, 59), False),
        ("monthly", at(2025, 12, 15), at(2026, 12, 10), True),  # the same day, a year later
        ("total", at(2000, 1, 1), at(2026, 12, 7), False),
    ],
)
def test_stale_after_a_boundary_only(
    cycle: LimitCycle, last_reset: datetime, now: datetime, stale: bool
) -> None:
    assert limit_cycle_is_stale(cycle, last_reset, now) is stale


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(cycle=st.sampled_from(CYCLES), now=moments)
def test_the_start_is_a_boundary_at_or_before_now(cycle: LimitCycle, now: datetime) -> None:
    start = limit_cycle_start(cycle, now)
    if cycle == "total":
        assert start is None
        return
    assert start is not None and start <= now < start + timedelta(days=32)
    assert (start.hour, start.minute, start.second, start.microsecond) == (0, 0, 0, 0)
    if cycle == "weekly":
        assert start.weekday() == 0 and now - start < timedelta(days=7)
    if cycle == "monthly":
        assert start.day == 1 and (start.year, start.month) == (now.year, now.month)
    if cycle == "daily":
        assert start.date() == now.date()
    # A reset at the start is fresh; a moment before it is stale.
    assert not limit_cycle_is_stale(cycle, start, now)
    assert limit_cycle_is_stale(cycle, start - timedelta(microseconds=1), now)


@given(cycle=st.sampled_from(CYCLES), a=moments, b=moments)
def test_staleness_is_monotonic_in_now(cycle: LimitCycle, a: datetime, b: datetime) -> None:
    """Once stale, stale for good: a later `now` never revives an old cycle's counters."""
    last, now = min(a, b), max(a, b)
    if limit_cycle_is_stale(cycle, last, now):
        assert limit_cycle_is_stale(cycle, last, now + timedelta(days=3))
    assert not limit_cycle_is_stale(cycle, now, now)
