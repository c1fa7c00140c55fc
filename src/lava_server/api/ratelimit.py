"""Per-key request budget: fixed one-minute windows, counted in memory, optionally shared.

Without Redis (`LAVA_REDIS_URL` empty) each server process counts on its own: with N processes a
key gets at most N times the limit.

With Redis the limit is shared by every process that uses it. `hit()` never waits for Redis: it
counts in memory, and a background task (`start()`) syncs every `sync_interval` seconds. For each
key with hits since the last sync it sends `INCRBY lava:ratelimit:<window>:<key hash> n` (with an
`EXPIRE` of 120 s) and reads back the total of all processes. A decision uses that total, as of
the last sync, plus this process's hits not synced yet. Redis keys hold the key's hash, never a
secret key.

The bound: a process learns the other processes' hits only at its next sync. So once a key's
shared total reaches the limit, each process may still admit the hits it receives before its next
sync (one sync interval, plus the round trip). Past the limit, a key gets at most what all
processes admit in one sync interval, and never more than N times the limit.

When Redis fails or cannot be reached, requests are neither failed nor slowed: each process goes
on counting alone, on top of the last shared totals it knew. A warning is logged at most once a
minute. Unsynced hits are kept and sent when Redis answers again (a sync whose answer was lost
may count its hits twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.types import ASGIApp, Receive, Scope, Send

from lava_server.errors import AUTH_FAILED, RateLimited, send_error
from lava_server.metrics import RATE_LIMIT_REFUSALS

log = logging.getLogger("lava_server.ratelimit")

WINDOW_SECONDS = 60
_AUTH_FAILURE_REFUSALS = RATE_LIMIT_REFUSALS.labels("auth_failures")
_KEY_TTL_SECONDS = 120
_WARN_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix seconds when the window ends
    now: float

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset - int(self.now)))
        return headers


class RateLimiter:
    """`hit(key)` counts one request of `key` and says whether it is within the limit."""

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.time,
        *,
        redis_url: str = "",
        prefix: str = "lava:ratelimit:",
        sync_interval: float = 0.2,
        redis_timeout: float = 1.0,
    ) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.prefix = prefix
        self.sync_interval = sync_interval
        self._window = 0
        self._shared: dict[str, int] = {}  # totals of all processes, as of the last sync
        self._pending: dict[str, int] = {}  # this process's hits not synced yet
        self._redis: aioredis.Redis | None = None
        if redis_url:
            self._redis = aioredis.Redis.from_url(
                redis_url,
                socket_timeout=redis_timeout,
                socket_connect_timeout=redis_timeout,
                retry=Retry(NoBackoff(), 0),
            )
        self._task: asyncio.Task[None] | None = None
        self._syncing = False
        self.redis_ok = True
        self._last_warning: float | None = None

    @property
    def shared(self) -> bool:
        return self._redis is not None

    def hit(self, key: str) -> RateDecision:
        now = self.clock()
        window = int(now // WINDOW_SECONDS)
        if window != self._window:
            self._window, self._shared, self._pending = window, {}, {}
        pending = self._pending.get(key, 0)
        count = self._shared.get(key, 0) + pending + 1
        allowed = count <= self.per_minute
        if allowed:
            self._pending[key] = pending + 1
        return RateDecision(
            allowed=allowed,
            limit=self.per_minute,
            remaining=max(0, self.per_minute - min(count, self.per_minute)),
            reset=(window + 1) * WINDOW_SECONDS,
            now=now,
        )

    def used(self, key: str) -> int:
        """Hits of `key` this window as this process sees them (shared total + pending)."""
        if int(self.clock() // WINDOW_SECONDS) != self._window:
            return 0
        return self._shared.get(key, 0) + self._pending.get(key, 0)

    async def sync(self) -> bool:
        """Send the hits since the last sync and read back the shared totals. False when Redis
        failed (the hits stay pending). Without Redis, nothing to do."""
        if self._redis is None or not self._pending or self._syncing:
            return True
        self._syncing = True
        try:
            return await self._sync(self._redis)
        finally:
            self._syncing = False

    async def _sync(self, client: aioredis.Redis) -> bool:
        # The batch stays pending until Redis has counted it: hits during the round trip see it.
        window, batch = self._window, dict(self._pending)
        try:
            async with client.pipeline(transaction=True) as pipe:
                for key, n in batch.items():
                    name = f"{self.prefix}{window}:{key}"
                    pipe.incrby(name, n)
                    pipe.expire(name, _KEY_TTL_SECONDS)
                results = await pipe.execute()
        except Exception as exc:
            self._failed(exc)
            return False
        if not self.redis_ok:
            log.warning("rate limits: Redis answers again; limits are shared again")
            self.redis_ok = True
        if self._window == window:  # else these hits belong to a window that is over
            pending = self._pending
            for (key, n), total in zip(batch.items(), results[::2], strict=True):
                self._shared[key] = int(total)  # includes the batch
                left = pending.get(key, 0) - n
                if left > 0:
                    pending[key] = left
                else:
                    pending.pop(key, None)
        return True

    def _failed(self, exc: BaseException) -> None:
        self.redis_ok = False
        now = time.monotonic()
        if self._last_warning is None or now - self._last_warning >= _WARN_EVERY_SECONDS:
            self._last_warning = now
            log.warning(
                "rate limits: Redis failed (%s: %s); each process counts alone until it answers",
                type(exc).__name__,
                exc,
            )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.sync_interval)
            try:
                await self.sync()
            except Exception:  # pragma: no cover - sync() catches Redis errors itself
                log.exception("rate limits: sync failed")

    async def start(self) -> None:
        """Start the background sync (with Redis only)."""
        if self._redis is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="lava-ratelimit-sync")

    async def stop(self) -> None:
        """Stop the background sync and close the Redis connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()


class AuthFailures:
    """Failed authentications per client address (`errors.InvalidCredentials`: a missing,
    malformed, unknown or revoked secret key or forward token), as an ASGI middleware around the
    API. Past `per_minute` failures in a window, every API request from that address gets 429
    until the window ends, before anything reads the database; each address is logged once per
    window, not once per request. Counted like `RateLimiter` (shared through Redis when set)."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter
        self._logged: tuple[int, set[str]] = (0, set())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        limiter = self.limiter
        if limiter.used(address) >= limiter.per_minute:
            await self._refuse(address, send)
            return
        await self.app(scope, receive, send)
        if scope.get("state", {}).get(AUTH_FAILED):
            limiter.hit(address)
            self._log_once(address)

    async def _refuse(self, address: str, send: Send) -> None:
        _AUTH_FAILURE_REFUSALS.inc()
        now = self.limiter.clock()
        retry_after = max(1, WINDOW_SECONDS - int(now) % WINDOW_SECONDS)
        await send_error(
            send,
            429,
            RateLimited.code,
            f"Too many failed authentications from {address}: more than "
            f"{self.limiter.per_minute} a minute. Check the secret key, then retry after "
            f"{retry_after} s.",
            "Authorization",
            [(b"retry-after", str(retry_after).encode())],
        )

    def _log_once(self, address: str) -> None:
        window = int(self.limiter.clock() // WINDOW_SECONDS)
        if self._logged[0] != window:
            self._logged = (window, set())
        logged = self._logged[1]
        if address not in logged:
            logged.add(address)
            log.warning(
                "failed authentication from %s (further ones from it are not logged this "
                "minute; past %d a minute it gets 429)",
                address,
                self.limiter.per_minute,
            )
