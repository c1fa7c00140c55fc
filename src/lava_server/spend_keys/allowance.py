"""Spending with a spend key (`docs/current-api.md#spend-keys`): who may call, and the allowance
a call takes and gives back.

1. `authorize`, before anything is sent: the key by its SHA-256 (unknown, revoked or rotated
   away: 401), its state (paused or past `expires_at`: 403) and what it binds (customer, meter);
   `check_target` then refuses a model or provider outside its allowlists (403).
2. `take`, in the transaction of the wallet's hold (metering calls it under the wallet's lock):
   the call's worst case and one request are reserved from the key's allowance by one
   conditional UPDATE (`repository.reserve`); when it refuses, `refusal` says why (402 for the
   spend limit, 429 with `Retry-After` for the request limit) and writes the key's
   `spend_key.limit_reached` event, once per limit and cycle.
3. `give_back`, in the transaction that settles or releases the call: what it did not use.

The rate limit (a token bucket per key, shared through Redis) is the door's, before the hold.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server import outbox
from lava_server.api.auth import hash_secret_key
from lava_server.db.engine import Database
from lava_server.db.models import SpendKey
from lava_server.errors import (
    ApiError,
    InvalidCredentials,
    ModelNotAllowed,
    NotFound,
    ProviderNotAllowed,
    RequestLimitReached,
    SpendKeyExpired,
    SpendKeyPaused,
    SpendLimitReached,
)
from lava_server.periods import LimitCycle, limit_cycle_end, limit_cycle_start
from lava_server.pricing import format_money
from lava_server.spend_keys import repository
from lava_server.spend_keys.service import KEY_PREFIX, current_requests, current_spend, render

MAX_RAW_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Grant:
    """A usable spend key, as read before its call is forwarded."""

    key_id: str
    key_hash: str
    merchant_id: str
    livemode: bool
    connection_id: str | None  # None: the merchant's own account pays
    meter_id: str | None
    allowed_models: tuple[str, ...] | None
    allowed_providers: tuple[str, ...] | None
    rate_limit_rpm: int | None
    rate_limit_burst: int | None
    status: str
    expires_at: datetime | None


def is_spend_key(raw: str) -> bool:
    return raw.startswith(KEY_PREFIX)


def _unknown() -> InvalidCredentials:
    return InvalidCredentials(
        "The spend key is not valid (unknown, revoked, or rotated: use the new key).",
        param="Authorization",
    )


def check_state(key: SpendKey | Grant, now: datetime) -> None:
    """403 for a paused key or one past its `expires_at`."""
    if key.status != "active":
        raise SpendKeyPaused(
            f"The spend key {_id_of(key)} is paused: the merchant can resume it.", param="status"
        )
    if key.expires_at is not None and key.expires_at <= now:
        raise SpendKeyExpired(
            f"The spend key {_id_of(key)} expired at {key.expires_at.isoformat()}.",
            param="expires_at",
        )


def _id_of(key: SpendKey | Grant) -> str:
    return key.key_id if isinstance(key, Grant) else key.id


def _hash_of(raw: str) -> str:
    if len(raw) > MAX_RAW_LENGTH or not raw.isascii():
        raise _unknown()
    return hash_secret_key(raw)


async def lookup(db: Database, raw: str) -> Grant:
    """The live key `raw`, whatever its state (401 when unknown, revoked or rotated away): what
    it may see (`GET /v1/models` lists what its allowlists take, paused or not)."""
    return await _read(db, _hash_of(raw))


async def _read(db: Database, key_hash: str) -> Grant:
    async with db.read() as session:
        key = await repository.by_hash(session, key_hash)
    if key is None:
        raise _unknown()
    return Grant(
        key_id=key.id,
        key_hash=key_hash,
        merchant_id=key.merchant_id,
        livemode=key.livemode,
        connection_id=key.connection_id,
        meter_id=key.meter_id,
        allowed_models=None if key.allowed_models is None else tuple(key.allowed_models),
        allowed_providers=None if key.allowed_providers is None else tuple(key.allowed_providers),
        rate_limit_rpm=key.rate_limit_rpm,
        rate_limit_burst=key.rate_limit_burst,
        status=key.status,
        expires_at=key.expires_at,
    )


class Grants:
    """The keys this process read lately, for `GRANT_SECONDS`: a key's calls do not read it
    again each time. Safe for money and state: the hold checks again, in its transaction, that
    the key is not revoked, rotated, paused or expired (`repository.reserve` and the hold's
    rule); only a change of the allowlists or of the rate limit waits up to `GRANT_SECONDS`."""

    def __init__(self, db: Database, *, seconds: float = 1.0, size: int = 10_000) -> None:
        self.db = db
        self.seconds = seconds
        self.size = size
        self._grants: dict[str, tuple[Grant, float]] = {}

    async def authorize(self, raw: str, now: datetime) -> Grant:
        key_hash = _hash_of(raw)
        moment = time.monotonic()
        found = self._grants.get(key_hash)
        if found is not None and found[1] > moment:
            check_state(found[0], now)
            return found[0]
        grant = await _read(self.db, key_hash)
        check_state(grant, now)
        if len(self._grants) >= self.size:
            self._grants.clear()
        self._grants[key_hash] = (grant, moment + self.seconds)
        return grant


def check_target(grant: Grant, provider: str, model: str | None) -> None:
    """403 unless the key's allowlists (None: any) take this provider and model. A call whose
    model cannot be known is refused by a key that names its models."""
    if grant.allowed_providers is not None and provider not in grant.allowed_providers:
        raise ProviderNotAllowed(
            f"This spend key may not call {provider} (allowed_providers: "
            f"{', '.join(grant.allowed_providers) or 'none'}).",
            param="provider",
        )
    if grant.allowed_models is not None and (model is None or model not in grant.allowed_models):
        raise ModelNotAllowed(
            f"This spend key may not use the model {model or '(none named)'} (allowed_models: "
            f"{', '.join(grant.allowed_models) or 'none'}).",
            param="model",
        )


async def take(
    session: AsyncSession, grant: Grant, amount: Decimal, now: datetime
) -> ApiError | None:
    """Reserve `amount` and one request of the key's allowance in the caller's transaction;
    None when taken, else the refusal (nothing of the call is to be written; the key's event,
    if due, is)."""
    if await repository.reserve(session, grant.key_id, grant.key_hash, amount, now):
        return None
    return await refusal(session, grant, amount, now)


async def give_back(
    session: AsyncSession,
    key_id: str,
    unused: Decimal,
    reserved_at: datetime,
    *,
    request: bool = False,
) -> None:
    """Return what a call reserved at `reserved_at` did not use (`request`: it was never made
    or not charged, so its request is given back too)."""
    if unused or request:
        await repository.release(session, key_id, unused, reserved_at, requests=1 if request else 0)


async def unbound(session: AsyncSession, grant: Grant) -> ApiError:
    """Why the hold's rule refused a key that bills a customer: the key was revoked or rotated
    since it was read, or its customer or meter is gone."""
    found = await repository.current(session, grant.key_id)
    if found is None or found[0].key_hash != grant.key_hash:
        return _unknown()
    return NotFound(
        f"The spend key {grant.key_id} is bound to a customer or meter that was deleted.",
        param="customer_id",
    )


async def refusal(session: AsyncSession, grant: Grant, amount: Decimal, now: datetime) -> ApiError:
    """Why `repository.reserve` refused the call (read in the same transaction)."""
    found = await repository.current(session, grant.key_id)
    if found is None or found[0].key_hash != grant.key_hash:
        return _unknown()  # revoked or rotated since it was read
    key = found[0]
    try:
        check_state(key, now)
    except ApiError as error:
        return error
    if key.request_limit is not None and current_requests(key, now) + 1 > key.request_limit:
        cycle = cast(LimitCycle, key.request_cycle or "total")
        await _reached(session, found, "request", cycle, now)
        end = limit_cycle_end(cycle, now)
        headers = {}
        if end is not None:
            headers["Retry-After"] = str(max(1, math.ceil((end - now).total_seconds())))
        return RequestLimitReached(
            f"The spend key {key.id} has used its {key.request_limit} requests of this "
            + ("lifetime." if end is None else f"{cycle} cycle; it resets at {end.isoformat()}."),
            param="request_limit",
            headers=headers,
        )
    spent = current_spend(key, now)
    cycle = cast(LimitCycle, key.spend_cycle or "total")
    await _reached(session, found, "spend", cycle, now)
    limit = key.spend_limit if key.spend_limit is not None else Decimal(0)
    return SpendLimitReached(
        f"This call may cost up to {format_money(amount)}, which would take the spend key "
        f"{key.id} past its spend limit of {format_money(limit)} ({cycle}; "
        f"{format_money(spent)} spent or held). Nothing was forwarded.",
        param="spend_limit",
    )


async def _reached(
    session: AsyncSession,
    found: repository.Found,
    limit: str,
    cycle: LimitCycle,
    now: datetime,
) -> None:
    """The key's `spend_key.limit_reached` event, the first time in the cycle."""
    key = found[0]
    if not await repository.mark_reached(
        session, key.id, limit, limit_cycle_start(cycle, now), now
    ):
        return
    data = {**render(found, now), "limit": f"{limit}_limit"}
    await outbox.record(
        session,
        outbox.SPEND_KEY_LIMIT_REACHED,
        object_id=key.id,
        livemode=key.livemode,
        merchant_id=key.merchant_id,
        data=dict(data),
        now=now,
    )
