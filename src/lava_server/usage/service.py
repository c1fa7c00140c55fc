"""`GET /v1/usage`: daily sums in the time zone of `start`'s UTC offset.

Days are whole calendar days in that zone, from the day holding `start` to the day holding `end`
(inclusive); each item's `start`/`end` are that day's bounds in UTC (`end` exclusive). Without
metadata filters the answer reads one 15-minute roll-up series (at most 96 rows a day), so its
cost does not grow with the number of stored requests; with metadata filters it sums the stored
requests themselves.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from lava_server.api.auth import Caller
from lava_server.db.engine import Database
from lava_server.errors import InvalidRequest
from lava_server.pricing import format_money
from lava_server.timeutil import iso, utcnow
from lava_server.usage import repository
from lava_server.usage.repository import MONEY_FIELDS
from lava_server.usage.schemas import RestUsage, UsageDay, UsageSums

MAX_DAYS = 366
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class UsageWindow:
    zone: timezone
    first_day: date
    days: int

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.first_day, datetime.min.time(), self.zone).astimezone(
            timezone.utc
        )

    @property
    def end_utc(self) -> datetime:
        return self.start_utc + timedelta(days=self.days)


def _parse_moment(raw: str, field: str, zone: timezone | None) -> datetime:
    problem = InvalidRequest(
        f"{field} must be an ISO 8601 date or date-time, e.g. 2025-01-01T00:00:00+05:30.",
        param=field,
    )
    text = raw.strip()
    if _DATE_ONLY.fullmatch(text):
        text += "T00:00:00"
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise problem from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or timezone.utc)
    offset = moment.utcoffset()
    assert offset is not None
    if offset.total_seconds() % 900 != 0 or abs(offset) >= timedelta(hours=24):
        raise InvalidRequest(
            f"{field}'s UTC offset must be a whole number of quarter hours.", param=field
        )
    return moment


def window(start: str, end: str | None, now: datetime | None = None) -> UsageWindow:
    begin = _parse_moment(start, "start", None)
    offset = begin.utcoffset()
    assert offset is not None
    zone = timezone(offset)
    finish = (now or utcnow()) if end is None else _parse_moment(end, "end", zone)
    if finish < begin:
        raise InvalidRequest("end must not be before start.", param="end")
    first_day = begin.astimezone(zone).date()
    last_day = finish.astimezone(zone).date()
    days = (last_day - first_day).days + 1
    if days > MAX_DAYS:
        raise InvalidRequest(f"The range may cover at most {MAX_DAYS} days.", param="end")
    return UsageWindow(zone, first_day, days)


def _sums(row: Any | None) -> dict[str, Any]:
    if row is None:
        return {
            "total_requests": 0,
            "total_usage_tokens": 0,
            **{name: Decimal(0) for name in MONEY_FIELDS},
        }
    values = list(row)[1:]
    sums: dict[str, Any] = {
        "total_requests": int(values[0] or 0),
        "total_usage_tokens": int(values[1] or 0),
    }
    for name, value in zip(MONEY_FIELDS, values[2:], strict=True):
        sums[name] = value if value is not None else Decimal(0)
    return sums


def _render_sums(sums: dict[str, Any]) -> UsageSums:
    return {
        "total_requests": sums["total_requests"],
        "total_usage_tokens": sums["total_usage_tokens"],
        "total_usage_cost": format_money(sums["total_usage_cost"]),
        "total_fee_amount": format_money(sums["total_fee_amount"]),
        "total_service_charge_amount": format_money(sums["total_service_charge_amount"]),
        "total_request_cost": format_money(sums["total_request_cost"]),
        "total_wallet_cost": format_money(sums["total_wallet_cost"]),
        "total_merchant_cost": format_money(sums["total_merchant_cost"]),
        "total_gross_volume": format_money(sums["total_request_cost"]),
        "total_net_volume": format_money(sums["total_fee_amount"] - sums["total_merchant_cost"]),
        "total_cost": format_money(sums["total_usage_cost"]),
        "total_charge": format_money(sums["total_fee_amount"]),
    }


async def retrieve(
    db: Database,
    caller: Caller,
    *,
    start: str,
    end: str | None,
    connection_id: str | None,
    product_id: str | None,
    metadata_filters: dict[str, str],
) -> RestUsage:
    span = window(start, end)
    async with db.read() as session:
        if metadata_filters:
            rows = await repository.daily_request_sums(
                session,
                caller.merchant_id,
                caller.livemode,
                span.start_utc,
                span.end_utc,
                connection_id,
                product_id,
                metadata_filters,
            )
        else:
            rows = await repository.daily_rollup_sums(
                session,
                caller.merchant_id,
                caller.livemode,
                span.start_utc,
                span.end_utc,
                connection_id,
                product_id,
            )
    by_day = {int(row[0]): row for row in rows}
    items: list[UsageDay] = []
    totals = _sums(None)
    for index in range(span.days):
        sums = _sums(by_day.get(index))
        for name, value in sums.items():
            totals[name] += value
        day_start = span.start_utc + timedelta(days=index)
        items.append(
            {
                "date": (span.first_day + timedelta(days=index)).isoformat(),
                "start": iso(day_start),
                "end": iso(day_start + timedelta(days=1)),
                **_render_sums(sums),
            }
        )
    return {"items": items, "totals": _render_sums(totals)}


@dataclass(frozen=True)
class Top:
    """One line of a ranking: a connection or a product, with its sums over a window."""

    id: str
    total_requests: int
    total_usage_tokens: int
    total_fee_amount: Decimal
    total_usage_cost: Decimal


DAY_SECONDS = 86400
SETTLED_AFTER = timedelta(hours=1)
"""A UTC day's roll-ups no longer change once it has been over this long (a forward call is
billed to the quarter hour it started in, and ends well within it)."""
_DAY_CACHE_ENTRIES = 200_000
# (merchant, livemode, by, day) -> id -> (requests, tokens, fees, cost): the sums of a settled
# day, which never change, kept by this process (at most `_DAY_CACHE_ENTRIES` ids in all, the
# least recently used days dropped first).
_day_cache: OrderedDict[tuple[str, bool, str, int], dict[str, tuple[int, int, Decimal, Decimal]]]
_day_cache = OrderedDict()
_day_cache_size = 0


_RANGE_CACHE_ENTRIES = 64
# (merchant, livemode, by, first day, end of the settled days) -> the settled days' sums merged.
_range_cache: OrderedDict[
    tuple[str, bool, str, int, int], dict[str, tuple[int, int, Decimal, Decimal]]
] = OrderedDict()


def _merge(
    into: dict[str, tuple[int, int, Decimal, Decimal]],
    sums: dict[str, tuple[int, int, Decimal, Decimal]],
) -> None:
    for key, (requests, tokens, fees, cost) in sums.items():
        found = into.get(key)
        if found is None:
            into[key] = (requests, tokens, fees, cost)
        else:
            into[key] = (found[0] + requests, found[1] + tokens, found[2] + fees, found[3] + cost)


def _sums_by_id(rows: list[Any]) -> dict[str, tuple[int, int, Decimal, Decimal]]:
    zero = Decimal(0)
    return {
        row[0]: (int(row[1] or 0), int(row[2] or 0), row[3] or zero, row[4] or zero) for row in rows
    }


def _remember(key: tuple[str, bool, str, int], sums: dict[str, Any]) -> None:
    global _day_cache_size
    _day_cache[key] = sums
    _day_cache_size += len(sums)
    while _day_cache_size > _DAY_CACHE_ENTRIES and len(_day_cache) > 1:
        _, dropped = _day_cache.popitem(last=False)
        _day_cache_size -= len(dropped)


async def top(
    db: Database, caller: Caller, start: datetime, end: datetime, *, by: str, limit: int = 5
) -> list[Top]:
    """The customers (`by="connection"`) or meters (`by="product"`) with the most fees from
    `start` to `end` (UTC, `start` at a day's start), from the roll-ups. A ranking over many
    days reads many roll-up rows (one per customer and quarter hour), so the sums of each whole
    UTC day that is settled are read once per process and kept; only the days since are read
    each time."""
    if by not in ("connection", "product"):
        raise ValueError(by)
    first = int(start.timestamp())
    last = int(end.timestamp())
    settled = int((utcnow() - SETTLED_AFTER).timestamp()) // DAY_SECONDS * DAY_SECONDS
    totals: dict[str, list[Any]] = {}

    def add(sums: dict[str, tuple[int, int, Decimal, Decimal]]) -> None:
        for key, values in sums.items():
            found = totals.setdefault(key, [0, 0, Decimal(0), Decimal(0)])
            for index, value in enumerate(values):
                found[index] += value

    day = first
    async with db.read() as session:
        settled_end = first
        while first % DAY_SECONDS == 0 and settled_end + DAY_SECONDS <= min(last, settled):
            settled_end += DAY_SECONDS
        range_key = (caller.merchant_id, caller.livemode, by, first, settled_end)
        merged = _range_cache.get(range_key)
        if merged is None:
            merged = {}
            while day < settled_end:
                cache_key = (caller.merchant_id, caller.livemode, by, day)
                sums = _day_cache.get(cache_key)
                if sums is None:
                    rows = await repository.top_series(
                        session,
                        caller.merchant_id,
                        caller.livemode,
                        datetime.fromtimestamp(day, timezone.utc),
                        datetime.fromtimestamp(day + DAY_SECONDS, timezone.utc),
                        by=by,
                        limit=None,
                    )
                    sums = _sums_by_id(rows)
                    _remember(cache_key, sums)
                else:
                    _day_cache.move_to_end(cache_key)
                _merge(merged, sums)
                day += DAY_SECONDS
            _range_cache[range_key] = merged
            while len(_range_cache) > _RANGE_CACHE_ENTRIES:
                _range_cache.popitem(last=False)
        else:
            _range_cache.move_to_end(range_key)
        day = settled_end
        add(merged)
        if day < last:
            rows = await repository.top_series(
                session,
                caller.merchant_id,
                caller.livemode,
                datetime.fromtimestamp(day, timezone.utc),
                end,
                by=by,
                limit=None,
            )
            add(_sums_by_id(rows))
    ranked = sorted(totals.items(), key=lambda item: (-item[1][2], item[0]))[:limit]
    return [Top(key, *values) for key, values in ranked]


async def last_activity(
    db: Database, caller: Caller, connection_ids: list[str]
) -> dict[str, datetime]:
    """When each connection last made a request (to the quarter hour), from the roll-ups."""
    async with db.read() as session:
        found = await repository.last_activity(
            session, caller.merchant_id, caller.livemode, connection_ids
        )
    return {key: datetime.fromtimestamp(value, timezone.utc) for key, value in found.items()}
