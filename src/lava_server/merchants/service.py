"""Creating merchants and keys. A secret key is shown once, at creation; only its hash is kept."""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.api.auth import Caller, hash_secret_key
from lava_server.db.engine import Database
from lava_server.db.models import ApiKey, Merchant
from lava_server.errors import InvalidRequest, NotFound, RateLimited
from lava_server.ids import new_id
from lava_server.merchants import repository
from lava_server.timeutil import utcnow

BOOTSTRAP_MERCHANT_NAME = "Sandbox merchant"
DEFAULT_KEY_NAME = "Secret key"
REVOKE_COOLDOWN = timedelta(seconds=15)
"""A key younger than this cannot be revoked through the API (429 with Retry-After)."""


@dataclass(frozen=True)
class NewKey:
    key_id: str
    merchant_id: str
    livemode: bool
    secret_key: str
    key: ApiKey | None = None


def new_secret_key(livemode: bool) -> str:
    return f"aks_{'live' if livemode else 'test'}_{secrets.token_urlsafe(32)}"


async def _add_key(
    session: AsyncSession, merchant_id: str, livemode: bool, name: str = DEFAULT_KEY_NAME
) -> NewKey:
    secret_key = new_secret_key(livemode)
    key = ApiKey(
        id=new_id("key", livemode),
        merchant_id=merchant_id,
        livemode=livemode,
        key_hash=hash_secret_key(secret_key),
        hint=secret_key[-4:],
        created_at=utcnow(),
        name=name,
    )
    await repository.add_key(session, key)
    return NewKey(key.id, merchant_id, livemode, secret_key, key)


async def _add_merchant(session: AsyncSession, name: str, livemode: bool) -> NewKey:
    merchant = Merchant(id=new_id("mer", True), name=name, created_at=utcnow())
    await repository.add_merchant(session, merchant)
    return await _add_key(session, merchant.id, livemode)


async def create_merchant(db: Database, name: str, *, livemode: bool) -> NewKey:
    """A new merchant and its first secret key (live or sandbox)."""
    async with db.write() as session:
        return await _add_merchant(session, name, livemode)


async def bootstrap(db: Database) -> NewKey | None:
    """On an empty database, create the sandbox merchant; else None. Safe when several
    processes start at once."""
    async with db.write() as session:
        await repository.lock_bootstrap(session)
        if await repository.count_merchants(session) > 0:
            return None
        return await _add_merchant(session, BOOTSTRAP_MERCHANT_NAME, livemode=False)


async def create_key(db: Database, merchant_id: str, *, livemode: bool) -> NewKey:
    async with db.write() as session:
        if await repository.get_merchant(session, merchant_id) is None:
            raise NotFound(f"No merchant {merchant_id}.", param="merchant_id")
        return await _add_key(session, merchant_id, livemode)


async def list_keys(db: Database, merchant_id: str | None = None) -> Sequence[ApiKey]:
    async with db.read() as session:
        return await repository.list_keys(session, merchant_id)


async def revoke_key(db: Database, key_id: str) -> None:
    """Revoke a key; requests with it are refused from the next one on."""
    async with db.write() as session:
        if not await repository.revoke_key(session, key_id):
            raise NotFound(f"No active key {key_id}.", param="key_id")


async def require_merchant(db: Database, merchant_id: str) -> None:
    async with db.read() as session:
        if await repository.get_merchant(session, merchant_id) is None:
            raise NotFound(f"No merchant {merchant_id}.", param="merchant_id")


async def create_named_key(db: Database, caller: Caller, name: str) -> NewKey:
    """`POST /v1/secret_keys`: a key of the caller's mode; its secret is shown this once."""
    async with db.write() as session:
        return await _add_key(session, caller.merchant_id, caller.livemode, name)


async def page_keys(
    db: Database, caller: Caller, cursor: str | None, limit: int
) -> Sequence[ApiKey]:
    async with db.read() as session:
        return await repository.page_keys(
            session, caller.merchant_id, caller.livemode, cursor, limit
        )


async def revoke_own_key(db: Database, caller: Caller, key_id: str) -> None:
    """Revoke one of the caller's keys of its mode, never the last one (the merchant would be
    locked out of the API in that mode), nor one made less than `REVOKE_COOLDOWN` ago
    (`docs/current-api.md#secret-keys`)."""
    async with db.write() as session:
        await repository.lock_merchant(session, caller.merchant_id)
        key = await repository.active_key(session, caller.merchant_id, caller.livemode, key_id)
        if key is None:
            raise NotFound(f"No secret key {key_id}.", param="id")
        if await repository.count_active_keys(session, caller.merchant_id, caller.livemode) <= 1:
            raise InvalidRequest(
                "This is the last secret key of this mode; create another one before revoking it.",
                param="id",
            )
        now = utcnow()
        wait = key.created_at + REVOKE_COOLDOWN - now
        if wait > timedelta(0):
            seconds = math.ceil(wait.total_seconds())
            raise RateLimited(
                f"A secret key can be revoked {REVOKE_COOLDOWN.seconds} s after its creation at "
                f"the earliest; retry in {seconds} s.",
                param="id",
                headers={"Retry-After": str(seconds)},
            )
        key.revoked_at = now
