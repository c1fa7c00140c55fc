"""Hourly limits on sending one-time codes, against SMS pumping
(`docs/checkout-and-wallets.md#one-time-codes`): at most `LAVA_CODE_SENDS_PER_HOUR` codes (5) to one
phone number or email address, and `LAVA_CODE_SENDS_PER_CLIENT_PER_HOUR` (20) asked for from one
client address, over any sliding hour, whatever the checkout session.

Every server process shares the counts: through Redis when `LAVA_REDIS_URL` is set (a sorted set
per key, checked and added to by one Lua script, so two processes cannot both take the last
send), else through the database (`code_sends`, on PostgreSQL under a transaction-scoped advisory
lock per key; SQLite serialises writers). When Redis fails, the database counts instead (a
warning is logged at most once a minute).

A send is reserved before the code leaves and taken back (`release`) when it could not be sent,
so a failed send does not count. Keys hold a hash of the phone number or address, never the
number itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.checkout import repository
from lava_server.checkout.forms import FormError
from lava_server.db.engine import Database
from lava_server.payments.code_senders import Destination
from lava_server.settings import Settings

log = logging.getLogger("lava_server.codes")

WINDOW = timedelta(hours=1)
_REDIS_PREFIX = "lava:codes:"
_WARN_EVERY_SECONDS = 60.0

# KEYS: the counted keys. ARGV: now (ms), window (ms), member, then each key's limit. Returns
# {0, 0} when the send was added to every key, else {index of the full key, its oldest send (ms)}.
_RESERVE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return {i, tonumber(oldest[2])}
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
end
return {0, 0}
"""


@dataclass(frozen=True)
class Limit:
    key: str
    per_hour: int
    message: str  # `{minutes}` is filled in
    field: str | None


@dataclass(frozen=True)
class Reservation:
    token: str
    keys: tuple[str, ...]
    in_redis: bool


def _hash(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()


def _limits(settings: Settings, to: Destination, client: str, field: str | None) -> list[Limit]:
    what = "number" if to.channel == "phone" else "email address"
    return [
        Limit(
            f"to:{_hash(str(to))}",
            settings.code_sends_per_hour,
            f"Too many codes were sent to this {what}; try again in {{minutes}}.",
            field,
        ),
        Limit(
            f"client:{client}"[:80],
            settings.code_sends_per_client_per_hour,
            "Too many codes were asked for from your network; try again in {minutes}.",
            field,
        ),
    ]


def _refusal(limit: Limit, oldest: datetime, now: datetime) -> FormError:
    minutes = max(1, math.ceil((oldest + WINDOW - now).total_seconds() / 60))
    text = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return FormError(limit.message.format(minutes=text), limit.field, status=429)


class SendLimits:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        redis_timeout: float = 1.0,
        redis_prefix: str = _REDIS_PREFIX,
    ) -> None:
        self.settings = settings
        self.db = db
        self.redis_prefix = redis_prefix
        self._redis: aioredis.Redis | None = None
        if settings.redis_url:
            self._redis = aioredis.Redis.from_url(
                settings.redis_url,
                socket_timeout=redis_timeout,
                socket_connect_timeout=redis_timeout,
                retry=Retry(NoBackoff(), 0),
            )
        self._last_warning: float | None = None

    @property
    def shared_in_redis(self) -> bool:
        return self._redis is not None

    async def reserve(
        self,
        session: AsyncSession,
        to: Destination,
        client: str,
        now: datetime,
        *,
        field: str | None,
    ) -> Reservation:
        """Count one send to `to` asked for by `client`, in `session`'s transaction when the
        database counts; raises a 429 `FormError` (with the minutes to wait) when a limit is
        reached, counting nothing."""
        limits = _limits(self.settings, to, client, field)
        token = secrets.token_hex(16)
        if self._redis is not None:
            try:
                return await self._reserve_in_redis(self._redis, limits, token, now)
            except FormError:
                raise
            except Exception as exc:
                self._warn(exc)
        keys = [limit.key for limit in limits]
        await repository.lock_code_keys(session, keys)
        since = now - WINDOW
        for limit in limits:
            count, oldest = await repository.code_sends_since(session, limit.key, since)
            if count >= limit.per_hour and oldest is not None:
                raise _refusal(limit, oldest, now)
        await repository.forget_code_sends(session, since)
        await repository.add_code_sends(session, keys, token, now)
        return Reservation(token, tuple(keys), in_redis=False)

    async def _reserve_in_redis(
        self, client: aioredis.Redis, limits: list[Limit], token: str, now: datetime
    ) -> Reservation:
        keys = [self.redis_prefix + limit.key for limit in limits]
        now_ms = int(now.timestamp() * 1000)
        window_ms = int(WINDOW.total_seconds() * 1000)
        args: list[str | int] = [now_ms, window_ms, token, *(limit.per_hour for limit in limits)]
        answer = await client.eval(_RESERVE, len(keys), *keys, *args)
        full, oldest_ms = answer
        if int(full):
            oldest = datetime.fromtimestamp(int(oldest_ms) / 1000, now.tzinfo)
            raise _refusal(limits[int(full) - 1], oldest, now)
        return Reservation(token, tuple(keys), in_redis=True)

    async def release(self, reservation: Reservation) -> None:
        """Take back a send that did not happen."""
        if reservation.in_redis and self._redis is not None:
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    for key in reservation.keys:
                        pipe.zrem(key, reservation.token)
                    await pipe.execute()
            except Exception as exc:
                self._warn(exc)
            return
        async with self.db.write() as session:
            await repository.remove_code_sends(session, reservation.token)

    def _warn(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._last_warning is None or now - self._last_warning >= _WARN_EVERY_SECONDS:
            self._last_warning = now
            log.warning(
                "code send limits: Redis failed (%s: %s); the database counts until it answers",
                type(exc).__name__,
                exc,
            )

    async def close(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
