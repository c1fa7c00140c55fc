"""The SQL of spend keys (`docs/current-api.md#spend-keys`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    case,
    false,
    func,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import Connection, Product, SpendKey, table_of
from lava_server.periods import limit_cycle_start

Found = tuple[SpendKey, str | None, str | None]
"""A key with the wallet of its customer and the slug of its meter (None when unbound)."""


def _with_binding() -> Select[SpendKey, str, str]:
    return (
        select(SpendKey, Connection.wallet_id, Product.meter_slug)
        .outerjoin(Connection, Connection.id == SpendKey.connection_id)
        .outerjoin(Product, Product.id == SpendKey.meter_id)
    )


async def add(session: AsyncSession, key: SpendKey) -> None:
    session.add(key)
    await session.flush()


async def get(
    session: AsyncSession, merchant_id: str, livemode: bool, key_id: str, *, lock: bool = False
) -> Found | None:
    """The merchant's live (not revoked) key of this mode, else None."""
    query = _with_binding().where(
        SpendKey.id == key_id,
        SpendKey.merchant_id == merchant_id,
        SpendKey.livemode == livemode,
        SpendKey.not_deleted(),
    )
    if lock:
        query = query.with_for_update(of=SpendKey)
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1], row[2])


async def page(
    session: AsyncSession,
    merchant_id: str,
    livemode: bool,
    cursor: str | None,
    limit: int,
    connection_id: str | None = None,
) -> Sequence[Found]:
    """A page of the merchant's live keys of one mode (of one connection), newest first
    (`limit + 1` rows)."""
    query = _with_binding().where(
        SpendKey.merchant_id == merchant_id,
        SpendKey.livemode == livemode,
        SpendKey.not_deleted(),
    )
    if connection_id is not None:
        query = query.where(SpendKey.connection_id == connection_id)
    if cursor is not None:
        query = query.where(SpendKey.id < cursor)
    rows = (await session.execute(query.order_by(SpendKey.id.desc()).limit(limit + 1))).all()
    return [(row[0], row[1], row[2]) for row in rows]


async def by_hash(session: AsyncSession, key_hash: str) -> SpendKey | None:
    """The live key with this SHA-256 (any merchant), for the paths that spend with a key."""
    return (
        await session.execute(
            select(SpendKey).where(SpendKey.key_hash == key_hash, SpendKey.not_deleted())
        )
    ).scalar_one_or_none()


def _cycle_start(cycle: Any) -> Any:
    """The start of the current cycle of a limit whose cycle is the column `cycle`, from the
    bound `:day_start`, `:week_start` and `:month_start`; NULL for `total` (never stale)."""
    starts = (("daily", "day_start"), ("weekly", "week_start"), ("monthly", "month_start"))
    return case(
        *(
            (cycle == name, bindparam(param, type_=SpendKey.created_at.type))
            for name, param in starts
        ),
        else_=null(),
    )


def _stale(started_at: Any, cycle: Any) -> Any:
    """Whether a counter belongs to a cycle that is over (`periods.limit_cycle_is_stale`)."""
    return func.coalesce(started_at < _cycle_start(cycle), false())


_AMOUNT = bindparam("amount", type_=SpendKey.current_spend.type)
_NOW = bindparam("now", type_=SpendKey.created_at.type)
_SPEND_STALE = _stale(SpendKey.spend_cycle_started_at, SpendKey.spend_cycle)
_REQUESTS_STALE = _stale(SpendKey.request_cycle_started_at, SpendKey.request_cycle)
_SPENT = case((_SPEND_STALE, literal(0)), else_=SpendKey.current_spend)
_COUNTED = case((_REQUESTS_STALE, literal(0)), else_=SpendKey.current_requests)
_RESERVE = (
    update(SpendKey)
    .where(
        SpendKey.id == bindparam("key_id", type_=SpendKey.id.type),
        SpendKey.key_hash == bindparam("b_key_hash", type_=SpendKey.key_hash.type),
        SpendKey.not_deleted(),
        SpendKey.status == "active",
        or_(SpendKey.expires_at.is_(None), SpendKey.expires_at > _NOW),
        or_(SpendKey.spend_limit.is_(None), SpendKey.spend_limit >= _SPENT + _AMOUNT),
        or_(SpendKey.request_limit.is_(None), SpendKey.request_limit >= _COUNTED + 1),
    )
    .values(
        current_spend=_SPENT + _AMOUNT,
        spend_cycle_started_at=case((_SPEND_STALE, _NOW), else_=SpendKey.spend_cycle_started_at),
        total_spend=SpendKey.total_spend + _AMOUNT,
        current_requests=_COUNTED + 1,
        request_cycle_started_at=case(
            (_REQUESTS_STALE, _NOW), else_=SpendKey.request_cycle_started_at
        ),
        total_requests=SpendKey.total_requests + 1,
        last_used_at=_NOW,
    )
    .execution_options(synchronize_session=False)
)


RESERVE = _RESERVE
"""The statement of `reserve`, for a hold that runs it on the driver itself
(`metering.repository.SqliteHolds`); its parameters are `reserve_params`."""


def reserve_params(key_id: str, key_hash: str, amount: Decimal, now: datetime) -> dict[str, Any]:
    return {"key_id": key_id, "b_key_hash": key_hash, "amount": amount, **_cycle_params(now)}


def _cycle_params(now: datetime) -> dict[str, datetime | None]:
    return {
        "now": now,
        "day_start": limit_cycle_start("daily", now),
        "week_start": limit_cycle_start("weekly", now),
        "month_start": limit_cycle_start("monthly", now),
    }


async def reserve(
    session: AsyncSession, key_id: str, key_hash: str, amount: Decimal, now: datetime
) -> bool:
    """Take `amount` and one request from the key's allowance, in one conditional UPDATE that
    also starts a fresh cycle for each counter whose cycle is over: True when taken; False, with
    nothing written, when the key is revoked, rotated away from `key_hash`, paused, expired, or
    the call would pass its spend
    or request limit (the caller reads the key to say which). Concurrent reservations of one key
    queue on its row, and each checks the limit against the counts the one before left, so no
    number of them passes a limit (`docs/current-api.md#spend-keys`). Meant to run inside the
    transaction of the wallet's hold, so that both are taken or neither."""
    result = await session.execute(_RESERVE, reserve_params(key_id, key_hash, amount, now))
    return bool(getattr(result, "rowcount", 0))


_SAME_CYCLE = SpendKey.spend_cycle_started_at <= bindparam(
    "reserved_at", type_=SpendKey.created_at.type
)
_SAME_REQUEST_CYCLE = SpendKey.request_cycle_started_at <= bindparam(
    "reserved_at", type_=SpendKey.created_at.type
)
_REQUESTS = bindparam("requests", type_=SpendKey.total_requests.type)
_RELEASE = (
    update(SpendKey)
    .where(SpendKey.id == bindparam("key_id", type_=SpendKey.id.type))
    .values(
        current_spend=case(
            (_SAME_CYCLE, SpendKey.current_spend - _AMOUNT), else_=SpendKey.current_spend
        ),
        total_spend=SpendKey.total_spend - _AMOUNT,
        current_requests=case(
            (_SAME_REQUEST_CYCLE, SpendKey.current_requests - _REQUESTS),
            else_=SpendKey.current_requests,
        ),
        total_requests=SpendKey.total_requests - _REQUESTS,
    )
    .execution_options(synchronize_session=False)
)


async def release(
    session: AsyncSession,
    key_id: str,
    amount: Decimal,
    reserved_at: datetime,
    *,
    requests: int = 0,
) -> None:
    """Give back what a settled call did not use of what `reserve` took at `reserved_at`
    (`amount`, and `requests`: 1 for a call that was never made). The current counts are only
    lowered while they still count the cycle of the reservation: a cycle started since then
    owes nothing back."""
    params = {"key_id": key_id, "amount": amount, "reserved_at": reserved_at, "requests": requests}
    await session.execute(_RELEASE, params)


_REACHED_COLUMNS = {
    "spend": SpendKey.spend_limit_reached_at,
    "request": SpendKey.request_limit_reached_at,
}


async def mark_reached(
    session: AsyncSession, key_id: str, limit: str, cycle_start: datetime | None, now: datetime
) -> bool:
    """Note that a call was refused for the key's `limit` (`spend` or `request`): True the first
    time in the cycle starting at `cycle_start` (None: `total`, the first time since the limit
    was set), so that its event is written once per cycle whatever the number of processes."""
    column = _REACHED_COLUMNS[limit]
    fresh: ColumnElement[bool] = column.is_(None)
    if cycle_start is not None:
        fresh = or_(fresh, column < cycle_start)
    result = await session.execute(
        update(SpendKey)
        .where(SpendKey.id == key_id, fresh)
        .values({column.key: now})
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


_KEYS = table_of(SpendKey)
_BOUND = (
    select(
        _KEYS, Connection.wallet_id.label("bound_wallet"), Product.meter_slug.label("bound_slug")
    )
    .select_from(
        _KEYS.outerjoin(Connection, Connection.id == _KEYS.c.connection_id).outerjoin(
            Product, Product.id == _KEYS.c.meter_id
        )
    )
    .where(_KEYS.c.id == bindparam("key_id"), _KEYS.c.deleted_at.is_(None))
)


async def current(session: AsyncSession, key_id: str) -> Found | None:
    """The live key `key_id` as the caller's transaction sees it, in Core (for the hold's lean
    transactions, which are not ORM sessions); a detached `SpendKey`."""
    row = (await session.execute(_BOUND, {"key_id": key_id})).first()
    if row is None:
        return None
    mapping = row._mapping
    key = SpendKey(**{column.key: mapping[column] for column in _KEYS.c})
    return key, mapping["bound_wallet"], mapping["bound_slug"]
