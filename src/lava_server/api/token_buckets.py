"""Per-key token buckets (a spend key's `rate_limit`: `rpm`, `burst`), exact across processes.

A bucket holds at most `burst` tokens (`rpm` when `burst` is None) and gains `rpm / 60` tokens a
second; each call takes one. A call that finds less than one token is refused, with the whole
seconds until one token is there (at least 1) as `Retry-After`.

With Redis (`LAVA_REDIS_URL`) every process on every host shares each key's bucket, exactly: one
Lua script refills the bucket by the time elapsed (Redis's own clock, `TIME`, so hosts whose clocks
disagree still agree) and takes the token, atomically. The bucket is a hash `<prefix><key>` with
`tokens` and `ts` (microseconds), and a TTL of three times the time a bucket takes to fill: a
bucket that has expired would have been full anyway. The key is an opaque id (a spend key's id),
never a secret. The calls a process makes while its previous ones are on their way go to Redis
together, one pipeline per round trip (each still its own atomic script), over a bounded pool of
connections: a burst of calls neither opens a connection each nor waits in line one by one.

Without Redis each process has its own buckets, in memory. When Redis fails or does not answer
within `redis_timeout`, calls are neither failed nor slowed: the process goes on with its own
bucket for the key, starting from what Redis last told it about that key (full when it knew
nothing), so during an outage a key gets at most about `burst + rpm` a minute per process. A
warning is logged at most once a minute. Redis is tried again in the background every
`retry_interval` seconds, and used again as soon as it answers.

Tokens are counted in whole units of 1/60,000,000 of a token, time in microseconds: a
microsecond adds `rpm` units, so refills are exact integers (no float drift, in Lua or here).

The buckets in memory are bounded: once a minute the full ones are dropped (a full bucket is the
same as no bucket), and past `max_keys` the one unused for the longest goes (its key may then
burst again).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError

log = logging.getLogger("lava_server.ratelimit")

UNIT = 60_000_000  # units of a token: one microsecond at `rpm` adds `rpm` units
MAX_RATE = 100_000_000  # the largest rpm or burst: capacity in units stays exact in a double
_TTL_FILLS = 3  # a Redis bucket lives three times the time it takes to fill
_WARN_EVERY_SECONDS = 60.0
_SWEEP_EVERY_SECONDS = 60.0

# KEYS[1]: the bucket. ARGV: rpm, capacity (in units), TTL (ms). Returns {allowed, units left}.
_TAKE = """
local rpm = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
elseif now > ts then
  local elapsed = now - ts
  if elapsed >= math.ceil((capacity - tokens) / rpm) then
    tokens = capacity
  else
    tokens = tokens + elapsed * rpm
  end
end
if tokens > capacity then
  tokens = capacity
end
local allowed = 0
if tokens >= 60000000 then
  tokens = tokens - 60000000
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.0f', tokens), 'ts',
  string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {allowed, tokens}
"""
_TAKE_SHA = hashlib.sha1(_TAKE.encode(), usedforsecurity=False).hexdigest()

# A take waiting for Redis: the bucket's name, the script's arguments, and its answer.
_Queued = tuple[str, tuple[int, int, int], "asyncio.Future[list[int]]"]


@dataclass(frozen=True)
class BucketDecision:
    allowed: bool
    retry_after: int  # whole seconds until a token is there: >= 1 when refused, 0 when allowed
    remaining: int  # whole tokens left after this call
    limit: int  # the bucket's capacity (burst)

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def _decision(allowed: bool, units: int, rpm: int, capacity: int) -> BucketDecision:
    retry_after = 0
    if not allowed:
        micros = -(-(UNIT - units) // rpm)  # until the units reach one token
        retry_after = max(1, -(-micros // 1_000_000))
    return BucketDecision(
        allowed=allowed, retry_after=retry_after, remaining=units // UNIT, limit=capacity
    )


class _Bucket:
    __slots__ = ("capacity", "rpm", "ts", "units")

    def __init__(self, units: int, ts: float, rpm: int, capacity: int) -> None:
        self.units, self.ts, self.rpm, self.capacity = units, ts, rpm, capacity

    def refill(self, now: float) -> None:
        elapsed = round((now - self.ts) * 1_000_000)  # microseconds
        if elapsed > 0:
            self.units += elapsed * self.rpm
            self.ts = now
        self.units = min(self.capacity * UNIT, self.units)


class TokenBuckets:
    """`await take(key, rpm, burst)` takes one token of `key`'s bucket, or says when to retry."""

    def __init__(
        self,
        *,
        redis_url: str = "",
        prefix: str = "lava:bucket:",
        clock: Callable[[], float] = time.monotonic,
        redis_timeout: float = 1.0,
        retry_interval: float = 1.0,
        max_keys: int = 100_000,
        max_connections: int = 8,
    ) -> None:
        self.prefix = prefix
        self.clock = clock  # seconds, for the buckets in memory
        self.redis_timeout = redis_timeout
        self.retry_interval = retry_interval
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}  # least recently used first
        self._next_sweep = clock() + _SWEEP_EVERY_SECONDS
        self._redis: aioredis.Redis | None = None
        self._queue: list[_Queued] = []  # takes waiting for the next batch to Redis
        self._sender: asyncio.Task[None] | None = None
        if redis_url:
            pool = aioredis.BlockingConnectionPool.from_url(
                redis_url,
                max_connections=max_connections,
                timeout=redis_timeout,
                socket_timeout=redis_timeout,
                socket_connect_timeout=redis_timeout,
                retry=Retry(NoBackoff(), 0),
            )
            self._redis = aioredis.Redis.from_pool(pool)
        self.redis_ok = True
        self._last_warning: float | None = None
        self._probe: asyncio.Task[None] | None = None
        self._next_probe = 0.0

    @property
    def shared(self) -> bool:
        return self._redis is not None

    async def take(self, key: str, rpm: int, burst: int | None) -> BucketDecision:
        capacity = rpm if burst is None else burst
        if not (1 <= rpm <= MAX_RATE and 1 <= capacity <= MAX_RATE):
            raise ValueError(f"rpm and burst must be 1 to {MAX_RATE}: got {rpm}, {burst}")
        if self._redis is not None:
            if self.redis_ok:
                decision = await self._take_shared(key, rpm, capacity)
                if decision is not None:
                    return decision
            else:
                self._maybe_probe()
        return self._take_here(key, rpm, capacity)

    async def _take_shared(self, key: str, rpm: int, capacity: int) -> BucketDecision | None:
        ttl_ms = max(1000, -(-_TTL_FILLS * capacity * UNIT // (rpm * 1000)))
        answer: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._queue.append((self.prefix + key, (rpm, capacity * UNIT, ttl_ms), answer))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send(), name="lava-token-buckets")
        try:
            allowed, units = await asyncio.wait_for(answer, self.redis_timeout)
        except Exception as exc:  # any failure of Redis: this process counts alone
            self._failed(exc)
            return None
        # Remember what Redis said: should it fail, this process goes on from there.
        self._remember(key, _Bucket(int(units), self.clock(), rpm, capacity))
        return _decision(bool(allowed), int(units), rpm, capacity)

    async def _send(self) -> None:
        """Send the queued takes to Redis, as one pipeline per round trip: the takes that come
        during a round trip go in the next one. Each take is still its own atomic script."""
        try:
            while self._queue:
                batch = [queued for queued in self._queue if not queued[2].done()]
                self._queue = []
                if batch:
                    await self._send_batch(batch)
        finally:
            self._sender = None

    async def _send_batch(self, batch: list[_Queued]) -> None:
        assert self._redis is not None
        try:
            results = await self._evalsha(self._redis, batch)
            missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
            if missing:  # Redis has not seen the script yet (or restarted): load it, again
                await self._redis.script_load(_TAKE)
                again = await self._evalsha(self._redis, [batch[i] for i in missing])
                for i, result in zip(missing, again, strict=True):
                    results[i] = result
        except Exception as exc:
            results = [exc] * len(batch)
        for (_, _, answer), result in zip(batch, results, strict=True):
            if answer.done():  # its caller stopped waiting
                continue
            if isinstance(result, Exception):
                answer.set_exception(result)
            else:
                answer.set_result(result)

    @staticmethod
    async def _evalsha(client: aioredis.Redis, batch: list[_Queued]) -> list[Any]:
        async with client.pipeline(transaction=False) as pipe:
            for name, args, _ in batch:
                pipe.evalsha(_TAKE_SHA, 1, name, *args)
            return list(await pipe.execute(raise_on_error=False))

    def _take_here(self, key: str, rpm: int, capacity: int) -> BucketDecision:
        now = self.clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(capacity * UNIT, now, rpm, capacity)
        else:
            bucket.rpm, bucket.capacity = rpm, capacity
            bucket.refill(now)
        allowed = bucket.units >= UNIT
        if allowed:
            bucket.units -= UNIT
        self._remember(key, bucket)
        return _decision(allowed, bucket.units, rpm, capacity)

    def _remember(self, key: str, bucket: _Bucket) -> None:
        buckets = self._buckets
        buckets.pop(key, None)
        now = bucket.ts
        if now >= self._next_sweep:
            self._sweep(now)
        while len(buckets) >= self.max_keys:  # too many: drop the least recently used
            del buckets[next(iter(buckets))]
        buckets[key] = bucket  # last: the most recently used

    def _sweep(self, now: float) -> None:
        """Drop the buckets that are full by now: no bucket at all is the same."""
        self._next_sweep = now + _SWEEP_EVERY_SECONDS
        for key, bucket in list(self._buckets.items()):
            bucket.refill(now)
            if bucket.units >= bucket.capacity * UNIT:
                del self._buckets[key]

    def __len__(self) -> int:
        """The buckets held in memory."""
        return len(self._buckets)

    def _failed(self, exc: BaseException) -> None:
        self.redis_ok = False
        now = time.monotonic()
        self._next_probe = now + self.retry_interval
        if self._last_warning is None or now - self._last_warning >= _WARN_EVERY_SECONDS:
            self._last_warning = now
            log.warning(
                "token buckets: Redis failed (%s: %s); each process keeps its own buckets until "
                "it answers",
                type(exc).__name__,
                str(exc) or "no answer in time",
            )

    def _maybe_probe(self) -> None:
        if self._probe is None and time.monotonic() >= self._next_probe:
            self._probe = asyncio.create_task(self._ping(), name="lava-token-buckets-probe")

    async def _ping(self) -> None:
        assert self._redis is not None
        try:
            await asyncio.wait_for(self._redis.ping(), self.redis_timeout)
        except Exception as exc:
            self._failed(exc)
        else:
            log.warning("token buckets: Redis answers again; buckets are shared again")
            self.redis_ok = True
        finally:
            self._probe = None

    async def aclose(self) -> None:
        """Stop the background work and close the Redis connections."""
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        for _, _, answer in self._queue:
            if not answer.done():
                answer.set_exception(ConnectionError("token buckets closed"))
        self._queue = []
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
