"""The rate limiter: in memory per process, and shared through Redis (LAVA_REDIS_URL).

The Redis tests use LAVA_TEST_REDIS_URL (default: the local Redis). When it cannot be reached they
are skipped, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from lava_server.api.auth import key_hash_of
from lava_server.api.ratelimit import RateLimiter
from lava_server.app import create_app
from lava_server.settings import Settings

REDIS_URL = os.environ.get("LAVA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NOW = 1_800_000_010.0  # 50 s before a window ends
WINDOW = int(NOW // 60)


def _redis_problem() -> str | None:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None


@pytest.fixture(scope="module")
def redis_url() -> str:
    problem = _redis_problem()
    if problem is not None:
        message = f"Redis not reachable at {REDIS_URL} ({problem})"
        if IN_CI:
            pytest.fail(f"{message}; under CI a missing Redis is a failure")
        pytest.skip(f"{message}: the shared rate-limit tests were skipped")
    return REDIS_URL


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    value = f"lava:test-ratelimit:{uuid.uuid4().hex}:"
    yield value
    client = aioredis.Redis.from_url(redis_url)
    try:
        names = [name async for name in client.scan_iter(match=value + "*")]
        if names:
            await client.delete(*names)
    finally:
        await client.aclose()


async def _redis_get(url: str, name: str) -> tuple[int, int]:
    """The value and TTL of one Redis key."""
    client = aioredis.Redis.from_url(url)
    try:
        value, ttl = await client.get(name), await client.ttl(name)
    finally:
        await client.aclose()
    return int(value or 0), int(ttl)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def limiters(redis_url: str, prefix: str) -> AsyncIterator[Callable[..., RateLimiter]]:
    made: list[RateLimiter] = []

    def make(per_minute: int, clock: Clock | None = None, **kwargs) -> RateLimiter:
        options = {"redis_url": redis_url, "prefix": prefix, **kwargs}
        limiter = RateLimiter(per_minute, clock or Clock(), **options)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.stop()


def allowed(limiter: RateLimiter, key: str, times: int) -> int:
    return sum(limiter.hit(key).allowed for _ in range(times))


# In memory (no Redis): as before.


def test_in_memory_counts_per_window():
    clock = Clock()
    limiter = RateLimiter(3, clock)
    assert not limiter.shared
    decisions = [limiter.hit("a") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[3].headers() == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str((WINDOW + 1) * 60),
        "Retry-After": "50",
    }
    assert "Retry-After" not in decisions[0].headers()
    assert limiter.hit("b").allowed  # another key has its own budget
    assert limiter.used("a") == 3  # refused hits are not counted
    clock.now += 50  # the next window
    assert limiter.used("a") == 0
    assert [limiter.hit("a").allowed for _ in range(4)] == [True, True, True, False]


async def test_in_memory_sync_start_stop_do_nothing():
    limiter = RateLimiter(2, Clock())
    await limiter.start()
    assert limiter.hit("a").allowed
    assert await limiter.sync()
    assert limiter.used("a") == 1
    await limiter.stop()


# Shared through Redis.


async def test_two_limiters_share_the_limit(limiters, redis_url, prefix):
    one, two = limiters(10), limiters(10)
    assert one.shared and two.shared
    assert allowed(one, "k", 6) == 6
    assert await one.sync()
    assert allowed(two, "k", 1) == 1
    assert await two.sync()
    assert two.used("k") == 7  # one's 6 and its own 1
    assert allowed(two, "k", 5) == 3  # 10 in all
    assert await two.sync()
    # `one` has not heard of two's hits: it admits one more (the documented overshoot), then
    # learns the total at its next sync.
    assert allowed(one, "k", 1) == 1
    assert await one.sync()
    assert one.used("k") == 11
    assert allowed(one, "k", 3) == 0
    assert allowed(two, "k", 3) == 0
    decision = one.hit("k")
    assert not decision.allowed and decision.remaining == 0
    assert allowed(one, "other", 2) == 2  # keys are separate
    value, ttl = await _redis_get(redis_url, f"{prefix}{WINDOW}:k")
    assert value == 11
    assert 0 < ttl <= 120


async def test_overshoot_stays_within_one_sync_interval(limiters, redis_url, prefix):
    """Random traffic on four processes, a sync between rounds: past the limit a key gets at most
    what each process admits in one round."""
    rng = random.Random(7)
    limit = 50
    group = [limiters(limit) for _ in range(4)]
    most_in_a_round = [0] * len(group)
    admitted = 0
    for _ in range(40):
        for index, limiter in enumerate(group):
            count = allowed(limiter, "k", rng.randint(0, 6))
            most_in_a_round[index] = max(most_in_a_round[index], count)
            admitted += count
        for limiter in group:
            assert await limiter.sync()
    value, _ = await _redis_get(redis_url, f"{prefix}{WINDOW}:k")
    assert value == admitted
    assert limit <= admitted <= limit + sum(most_in_a_round)
    assert admitted < 2 * limit  # far below what four processes counting alone would allow


async def test_window_rollover(limiters, redis_url, prefix):
    clock = Clock()
    one, two = limiters(3, clock), limiters(3, clock)
    assert allowed(one, "k", 3) == 3
    assert await one.sync()
    assert allowed(two, "k", 1) == 1  # stale view: `two` has not synced yet
    assert await two.sync()
    assert allowed(two, "k", 1) == 0
    clock.now += 50  # the next window: a fresh budget everywhere
    assert two.used("k") == 0
    decision = two.hit("k")
    assert decision.allowed and decision.remaining == 2
    assert decision.reset == (WINDOW + 2) * 60
    assert await two.sync()
    assert allowed(one, "k", 2) == 2
    assert await one.sync()
    assert one.used("k") == 3
    assert allowed(one, "k", 1) == 0
    assert await _redis_get(redis_url, f"{prefix}{WINDOW}:k") == (4, pytest.approx(120, abs=5))
    assert (await _redis_get(redis_url, f"{prefix}{WINDOW + 1}:k"))[0] == 3


async def test_hits_of_a_window_that_ended_during_a_sync_are_dropped(limiters, redis_url, prefix):
    clock = Clock(NOW + 49)
    limiter = limiters(5, clock)
    assert allowed(limiter, "k", 2) == 2
    clock.now += 2  # the window ends before the sync
    assert allowed(limiter, "k", 1) == 1
    assert await limiter.sync()
    assert limiter.used("k") == 1
    assert (await _redis_get(redis_url, f"{prefix}{WINDOW + 1}:k"))[0] == 1


async def test_background_sync(limiters, redis_url, prefix):
    one, two = limiters(5, sync_interval=0.02), limiters(5, sync_interval=0.02)
    await one.start()
    await two.start()
    assert allowed(one, "k", 4) == 4
    await _eventually(lambda: one.used("k") == 4 and not one._pending)
    assert allowed(two, "k", 1) == 1
    await _eventually(lambda: two.used("k") == 5 and not two._pending)
    assert not two.hit("k").allowed
    await one.stop()
    await two.stop()
    assert (await _redis_get(redis_url, f"{prefix}{WINDOW}:k"))[0] == 5


async def _eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Forwarder:
    """A TCP relay to the real Redis on a port of its own, to cut and restore "Redis"."""

    def __init__(self, target: str, port: int) -> None:
        url = redis.connection.parse_url(target)
        self.target_host = str(url.get("host", "127.0.0.1"))
        self.target_port = int(url.get("port", 6379))
        self.port = port
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        await self.server.wait_closed()
        self.server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        self.writers += [writer, up_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
def forwarder(redis_url: str) -> Iterator[Forwarder]:
    relay = Forwarder(redis_url, _free_port())
    yield relay


async def test_redis_down_counts_per_process_and_recovers(
    limiters, forwarder, redis_url, prefix, caplog
):
    caplog.set_level(logging.WARNING, logger="lava_server.ratelimit")
    down_url = f"redis://127.0.0.1:{forwarder.port}/0"  # nothing listens there yet
    one, two = limiters(3, redis_url=down_url), limiters(3, redis_url=down_url)
    assert [one.hit("k").allowed for _ in range(4)] == [True, True, True, False]
    assert [two.hit("k").allowed for _ in range(4)] == [True, True, True, False]
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert not await one.sync()
    assert not await one.sync()
    assert not await two.sync()
    assert loop.time() - started < 1.0  # a refused connection is not retried at length
    assert not one.redis_ok
    assert one.used("k") == 3  # the hits stay pending
    warnings = [r for r in caplog.records if "Redis failed" in r.getMessage()]
    assert len(warnings) == 2  # once a minute per limiter, not once a sync
    assert "ConnectionError" in warnings[0].getMessage()

    await forwarder.open()  # Redis is back: the pending hits are sent
    try:
        assert await one.sync()
        assert one.redis_ok
        assert "answers again" in caplog.records[-1].getMessage()
        assert await two.sync()
        assert two.used("k") == 6
        assert (await _redis_get(redis_url, f"{prefix}{WINDOW}:k"))[0] == 6
        assert not one.hit("k").allowed
        assert allowed(one, "j", 1) == 1
        assert await one.sync()
    finally:
        await forwarder.close()

    # Down again, with open connections cut: still no exception, still counting.
    assert allowed(one, "j", 5) == 2
    assert not await one.sync()
    assert not await one.sync()
    assert one.used("j") == 3
    assert not one.redis_ok


async def test_background_sync_survives_redis_down(limiters):
    limiter = limiters(2, redis_url=f"redis://127.0.0.1:{_free_port()}/0", sync_interval=0.01)
    await limiter.start()
    assert [limiter.hit("k").allowed for _ in range(3)] == [True, True, False]
    await _eventually(lambda: not limiter.redis_ok)
    await asyncio.sleep(0.05)  # a few failed syncs
    assert limiter._task is not None and not limiter._task.done()
    assert [limiter.hit("k").allowed for _ in range(2)] == [False, False]
    await limiter.stop()


# End to end: two apps (two server processes) on one database and one Redis.


async def test_two_apps_share_the_limit(database_url, db, merchant, redis_url, prefix):
    settings = Settings(database_url=database_url, rate_limit_per_minute=4, redis_url=redis_url)
    apps = [create_app(settings, db), create_app(settings, db)]
    limiters_ = [app.state.lava.rate_limiter for app in apps]
    for limiter in limiters_:
        assert limiter.shared
        limiter.prefix = prefix
        limiter.sync_interval = 0.02
        limiter.clock = Clock()  # no window ends during the test
    digest = key_hash_of(merchant.secret_key)
    assert digest is not None

    async with (
        apps[0].router.lifespan_context(apps[0]),
        apps[1].router.lifespan_context(apps[1]),
    ):
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://lava.test")
            for app in apps
        ]
        one, two = clients
        try:
            for _ in range(3):
                response = await one.get("/v1/connections", headers=merchant.headers)
                assert response.status_code == 200
            await _eventually(lambda: limiters_[0].used(digest) == 3 and not limiters_[0]._pending)
            response = await two.get("/v1/connections", headers=merchant.headers)
            assert response.status_code == 200
            assert response.headers["x-ratelimit-remaining"] == "3"  # before its first sync
            await _eventually(lambda: limiters_[1].used(digest) == 4 and not limiters_[1]._pending)
            response = await two.get("/v1/connections", headers=merchant.headers)
            assert response.status_code == 429
            assert response.json()["error"]["code"] == "rate_limited"
            assert response.headers["retry-after"] == "50"
            # `one` has not heard of two's hit yet: at most one more (one sync interval), then 429.
            statuses = []
            for _ in range(3):
                statuses.append(
                    (await one.get("/v1/connections", headers=merchant.headers)).status_code
                )
                await _eventually(lambda: not limiters_[0]._pending)
            assert statuses in ([200, 429, 429], [429, 429, 429])
            assert (await two.get("/v1/requests", headers=merchant.headers)).status_code == 429
        finally:
            for client in clients:
                await client.aclose()
    total, _ = await _redis_get(redis_url, f"{prefix}{WINDOW}:{digest}")
    assert 4 <= total <= 5
    for limiter in limiters_:
        assert limiter._task is None  # stopped with the app
