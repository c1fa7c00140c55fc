"""Spend keys (`docs/current-api.md#spend-keys`): made, changed, rotated and revoked by the
merchant. A key is shown once, when it is made or rotated; only its SHA-256 is kept, as for
secret keys."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import cast

from lava_server.api.auth import Caller, hash_secret_key
from lava_server.connections import service as connections
from lava_server.db.engine import Database
from lava_server.db.models import SpendKey
from lava_server.errors import InvalidRequest, NotFound
from lava_server.ids import new_id
from lava_server.periods import LimitCycle, limit_cycle_is_stale
from lava_server.pricing import format_money
from lava_server.products import repository as products
from lava_server.spend_keys import repository
from lava_server.spend_keys.repository import Found
from lava_server.spend_keys.schemas import (
    KeySettings,
    RequestShape,
    RestSpendKey,
    RestSpendKeyCreated,
    SpendKeyCreate,
    SpendKeyUpdate,
    Status,
)
from lava_server.timeutil import iso, iso_or_none, utcnow

KEY_PREFIX = "lava_sk_"
PREVIEW_CHARS = len(KEY_PREFIX) + 8


def new_raw_key() -> str:
    """`lava_sk_` and 256 random bits."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def preview_of(raw_key: str) -> str:
    """The first characters only: `lava_sk_xxxxxxxx****`."""
    return raw_key[:PREVIEW_CHARS] + "****"


def current_spend(key: SpendKey, now: datetime) -> Decimal:
    """The spend of the key's current cycle: zero once the cycle that counted it is over."""
    cycle = cast(LimitCycle, key.spend_cycle or "total")
    stale = limit_cycle_is_stale(cycle, key.spend_cycle_started_at, now)
    return Decimal(0) if stale else key.current_spend


def current_requests(key: SpendKey, now: datetime) -> int:
    cycle = cast(LimitCycle, key.request_cycle or "total")
    stale = limit_cycle_is_stale(cycle, key.request_cycle_started_at, now)
    return 0 if stale else key.current_requests


def render(found: Found, now: datetime | None = None) -> RestSpendKey:
    key, customer_wallet, meter_slug = found
    now = now or utcnow()
    return {
        "spend_key_id": key.id,
        "key_preview": key.key_preview,
        "name": key.name,
        "status": cast(Status, key.status),
        "request_shape": cast(RequestShape, key.request_shape),
        "wallet_id": customer_wallet or key.merchant_id,
        "allowed_models": key.allowed_models,
        "allowed_providers": key.allowed_providers,
        "spend_limit": None
        if key.spend_limit is None
        else {
            "amount": format_money(key.spend_limit),
            "cycle": cast(LimitCycle, key.spend_cycle),
        },
        "current_spend": format_money(current_spend(key, now)),
        "total_spend": format_money(key.total_spend),
        "request_limit": None
        if key.request_limit is None
        else {"count": key.request_limit, "cycle": cast(LimitCycle, key.request_cycle)},
        "current_requests": current_requests(key, now),
        "total_requests": key.total_requests,
        "rate_limit": None
        if key.rate_limit_rpm is None
        else {"rpm": key.rate_limit_rpm, "burst": key.rate_limit_burst},
        "expires_at": iso_or_none(key.expires_at),
        "last_used_at": iso_or_none(key.last_used_at),
        "created_at": iso(key.created_at),
        "customer_id": key.connection_id,
        "meter_id": key.meter_id,
        "meter_slug": meter_slug,
    }


def _apply(key: SpendKey, params: KeySettings, given: set[str], now: datetime) -> None:
    """The settings shared by create and update that `given` names (`null` clears)."""
    if "allowed_models" in given:
        key.allowed_models = params.allowed_models
    if "allowed_providers" in given:
        key.allowed_providers = params.allowed_providers
    if "spend_limit" in given:
        limit = params.spend_limit
        cycle = None if limit is None else limit.cycle
        if cycle != key.spend_cycle:  # another cycle counts afresh
            key.current_spend, key.spend_cycle_started_at = Decimal(0), now
        key.spend_limit_reached_at = None  # a new limit may be reached again
        key.spend_limit, key.spend_cycle = (None, None) if limit is None else (limit.amount, cycle)
    if "request_limit" in given:
        limit_ = params.request_limit
        cycle = None if limit_ is None else limit_.cycle
        if cycle != key.request_cycle:
            key.current_requests, key.request_cycle_started_at = 0, now
        key.request_limit_reached_at = None
        key.request_limit, key.request_cycle = (
            (None, None) if limit_ is None else (limit_.count, cycle)
        )
    if "rate_limit" in given:
        rate = params.rate_limit
        key.rate_limit_rpm = None if rate is None else rate.rpm
        key.rate_limit_burst = None if rate is None else rate.burst
    if "expires_at" in given:
        key.expires_at = params.expires_at


async def create(db: Database, caller: Caller, params: SpendKeyCreate) -> RestSpendKeyCreated:
    if params.customer_id is not None and params.meter_slug is None:
        raise InvalidRequest(
            "meter_slug is required with customer_id: it prices the customer's calls.",
            param="meter_slug",
        )
    now = utcnow()
    raw = new_raw_key()
    async with db.write() as session:
        connection_id: str | None = None
        meter_id: str | None = None
        if params.customer_id is not None:
            connection, _ = await connections.find(
                session, caller, params.customer_id, "customer_id"
            )
            connection_id = connection.id
        if params.meter_slug is not None:
            meter_id = await products.meter_id(
                session, caller.merchant_id, caller.livemode, params.meter_slug
            )
            if meter_id is None:
                raise NotFound(f"No meter {params.meter_slug}.", param="meter_slug")
        key = SpendKey(
            id=new_id("spk", caller.livemode),
            merchant_id=caller.merchant_id,
            livemode=caller.livemode,
            key_hash=hash_secret_key(raw),
            key_preview=preview_of(raw),
            name=params.name,
            status=params.status,
            request_shape=params.request_shape,
            connection_id=connection_id,
            meter_id=meter_id,
            current_spend=Decimal(0),
            total_spend=Decimal(0),
            spend_cycle_started_at=now,
            current_requests=0,
            total_requests=0,
            request_cycle_started_at=now,
            created_at=now,
            updated_at=now,
        )
        _apply(key, params, set(params.model_fields_set), now)
        await repository.add(session, key)
        found = await repository.get(session, caller.merchant_id, caller.livemode, key.id)
    assert found is not None
    return {**render(found, now), "key": raw}


def _missing(key_id: str) -> NotFound:
    return NotFound(f"No spend key {key_id}.", param="spend_key_id")


async def retrieve(db: Database, caller: Caller, key_id: str) -> RestSpendKey:
    async with db.read() as session:
        found = await repository.get(session, caller.merchant_id, caller.livemode, key_id)
    if found is None:
        raise _missing(key_id)
    return render(found)


async def list_page(
    db: Database, caller: Caller, cursor: str | None, limit: int, connection_id: str | None = None
) -> Sequence[Found]:
    async with db.read() as session:
        return await repository.page(
            session, caller.merchant_id, caller.livemode, cursor, limit, connection_id
        )


_NOT_NULL = ("name", "status", "request_shape")


async def update(db: Database, caller: Caller, key_id: str, params: SpendKeyUpdate) -> RestSpendKey:
    given = set(params.model_fields_set)
    for field in _NOT_NULL:
        if field in given and getattr(params, field) is None:
            raise InvalidRequest(f"{field} cannot be null.", param=field)
    now = utcnow()
    async with db.write() as session:
        found = await repository.get(
            session, caller.merchant_id, caller.livemode, key_id, lock=True
        )
        if found is None:
            raise _missing(key_id)
        key = found[0]
        if params.name is not None:
            key.name = params.name
        if params.status is not None:
            key.status = params.status
        if params.request_shape is not None:
            key.request_shape = params.request_shape
        _apply(key, params, given, now)
        key.updated_at = now
    return render(found, now)


async def revoke(db: Database, caller: Caller, key_id: str) -> None:
    """Soft delete: the key stops working at once; its row stays for the requests it made."""
    now = utcnow()
    async with db.write() as session:
        found = await repository.get(
            session, caller.merchant_id, caller.livemode, key_id, lock=True
        )
        if found is None:
            raise _missing(key_id)
        found[0].deleted_at = now
        found[0].updated_at = now


async def rotate(db: Database, caller: Caller, key_id: str) -> RestSpendKeyCreated:
    """A new raw key for the same key: settings and usage stay, the old key stops at once."""
    now = utcnow()
    raw = new_raw_key()
    async with db.write() as session:
        found = await repository.get(
            session, caller.merchant_id, caller.livemode, key_id, lock=True
        )
        if found is None:
            raise _missing(key_id)
        key = found[0]
        key.key_hash = hash_secret_key(raw)
        key.key_preview = preview_of(raw)
        key.updated_at = now
    return {**render(found, now), "key": raw}
