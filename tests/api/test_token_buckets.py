"""Token buckets (a spend key's `rate_limit`): in memory per process, and shared exactly through
Redis. The Redis tests use LAVA_TEST_REDIS_URL (default: the local Redis), skipped when it cannot
be reached, except under CI=true.

Timing: the Redis tests run on Redis's real clock, so they use slow refills (a token a second or
slower) and check only what no delay of a loaded machine can change.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from lava_server.api.token_buckets import UNIT, BucketDecision, TokenBuckets
from tests.api.test_ratelimit import IN_CI, REDIS_URL, Forwarder, _free_port, _redis_problem


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def take_many(buckets: TokenBuckets, key: str, times: int, rpm: int, burst: int | None):
    return [await buckets.take(key, rpm, burst) for _ in range(times)]


def allowed(decisions: list[BucketDecision]) -> list[bool]:
    return [d.allowed for d in decisions]


# In memory (no Redis), on an injected clock.


async def test_burst_then_refusal_with_retry_after():
    buckets = TokenBuckets(clock=Clock())
    assert not buckets.shared
    decisions = await take_many(buckets, "k", 4, rpm=10, burst=3)  # a token every 6 s
    assert allowed(decisions) == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert [d.retry_after for d in decisions] == [0, 0, 0, 6]
    assert decisions[0].headers() == {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2"}
    assert decisions[3].headers() == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "0",
        "Retry-After": "6",
    }
    await buckets.aclose()


async def test_refill_over_time():
    clock = Clock()
    buckets = TokenBuckets(clock=clock)
    assert allowed(await take_many(buckets, "k", 3, rpm=10, burst=2)) == [True, True, False]
    clock.now += 5.9  # 0.1 s short of a token: still refused, and Retry-After rounds up to 1
    decision = await buckets.take("k", 10, 2)
    assert not decision.allowed and decision.retry_after == 1
    clock.now += 0.1
    assert allowed(await take_many(buckets, "k", 2, rpm=10, burst=2)) == [True, False]
    clock.now += 3  # half a token
    assert (await buckets.take("k", 10, 2)).retry_after == 3
    clock.now += 3600  # long idle: full, never more than the burst
    assert allowed(await take_many(buckets, "k", 3, rpm=10, burst=2)) == [True, True, False]
    # Many small steps add up exactly (integer units, no float drift): 60 steps of 0.1 s at
    # rpm=10 is exactly one token.
    for _ in range(59):
        clock.now += 0.1
        assert not (await buckets.take("k", 10, 2)).allowed
    clock.now += 0.1
    assert (await buckets.take("k", 10, 2)).allowed


async def test_burst_defaults_to_rpm():
    buckets = TokenBuckets(clock=Clock())
    assert sum(allowed(await take_many(buckets, "k", 70, rpm=60, burst=None))) == 60
    decision = await buckets.take("k", 60, None)
    assert decision.limit == 60 and decision.retry_after == 1


async def test_capacity_change_caps_the_tokens():
    clock = Clock()
    buckets = TokenBuckets(clock=clock)
    assert allowed(await take_many(buckets, "k", 2, rpm=60, burst=10)) == [True, True]
    decision = await buckets.take("k", 60, 3)  # 8 tokens, capped at the new burst of 3
    assert decision.allowed and decision.remaining == 2 and decision.limit == 3
    decision = await buckets.take("k", 60, 20)  # a larger burst gives no tokens at once
    assert decision.allowed and decision.remaining == 1
    clock.now += 10  # it fills at the rate...
    assert (await buckets.take("k", 60, 20)).remaining == 10
    clock.now += 600  # ...up to the new burst
    assert (await buckets.take("k", 60, 20)).remaining == 19
    # A new rate applies from now on: rpm 6 is a token every 10 s.
    assert sum(allowed(await take_many(buckets, "k", 25, rpm=6, burst=20))) == 19
    clock.now += 10
    assert allowed(await take_many(buckets, "k", 2, rpm=6, burst=20)) == [True, False]


async def test_each_process_has_its_own_buckets():
    clock = Clock()
    one, two = TokenBuckets(clock=clock), TokenBuckets(clock=clock)
    assert allowed(await take_many(one, "k", 3, rpm=60, burst=2)) == [True, True, False]
    assert allowed(await take_many(two, "k", 3, rpm=60, burst=2)) == [True, True, False]
    assert (await one.take("other", 60, 2)).allowed  # keys are separate


async def test_memory_is_bounded():
    clock = Clock()
    buckets = TokenBuckets(clock=clock, max_keys=3)
    for key in "abcd":
        assert (await buckets.take(key, 60, 1)).allowed
    assert len(buckets) == 3  # "a", unused the longest, went
    assert (await buckets.take("a", 60, 1)).allowed  # a fresh bucket
    assert not (await buckets.take("d", 60, 1)).allowed
    clock.now += 61  # all full by now: the next sweep drops them all but the one in use
    assert (await buckets.take("e", 60, 5)).allowed
    assert len(buckets) == 1


async def test_bad_rates_are_refused():
    buckets = TokenBuckets()
    for rpm, burst in ((0, None), (10, 0), (-1, 5), (10**9, None), (10, 10**9)):
        with pytest.raises(ValueError, match="rpm and burst"):
            await buckets.take("k", rpm, burst)


# Shared through Redis.


@pytest.fixture(scope="module")
def redis_url() -> str:
    problem = _redis_problem()
    if problem is not None:
        message = f"Redis not reachable at {REDIS_URL} ({problem})"
        if IN_CI:
            pytest.fail(f"{message}; under CI a missing Redis is a failure")
        pytest.skip(f"{message}: the shared token-bucket tests were skipped")
    return REDIS_URL


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    value = f"lava:test-bucket:{uuid.uuid4().hex}:"
    yield value
    client = aioredis.Redis.from_url(redis_url)
    try:
        names = [name async for name in client.scan_iter(match=value + "*")]
        if names:
            await client.delete(*names)
    finally:
        await client.aclose()


@pytest.fixture
async def make(redis_url: str, prefix: str) -> AsyncIterator[Callable[..., TokenBuckets]]:
    made: list[TokenBuckets] = []

    def make_(**kwargs) -> TokenBuckets:
        buckets = TokenBuckets(**{"redis_url": redis_url, "prefix": prefix, **kwargs})
        made.append(buckets)
        return buckets

    yield make_
    for buckets in made:
        await buckets.aclose()


async def _hash(url: str, name: str) -> tuple[dict[bytes, bytes], int]:
    client = aioredis.Redis.from_url(url)
    try:
        return await client.hgetall(name), await client.pttl(name)
    finally:
        await client.aclose()


async def test_redis_burst_then_refusal(make, redis_url, prefix):
    buckets = make()
    assert buckets.shared
    decisions = await take_many(buckets, "k", 4, rpm=6, burst=3)  # a token every 10 s
    assert allowed(decisions) == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert 5 <= decisions[3].retry_after <= 10  # 10, less the time the calls took
    assert decisions[3].headers()["Retry-After"] == str(decisions[3].retry_after)
    assert buckets.redis_ok
    state, ttl = await _hash(redis_url, prefix + "k")
    assert 0 <= int(state[b"tokens"]) < UNIT  # less than a token left
    assert int(state[b"ts"]) > 1_700_000_000_000_000  # Redis's clock, in microseconds
    assert 0 < ttl <= 3 * 30_000  # three times the 30 s a bucket of 3 takes to fill


async def test_redis_refill_over_time(make):
    buckets = make()
    # A token every 2 s: after the burst, a refusal; a little over 2 s later, one more.
    decisions = await take_many(buckets, "k", 3, rpm=30, burst=2)
    assert allowed(decisions) == [True, True, False]
    assert decisions[2].retry_after in (1, 2)
    await asyncio.sleep(2.2)
    assert (await buckets.take("k", 30, 2)).allowed
    refused = await buckets.take("k", 30, 2)
    assert not refused.allowed and refused.retry_after in (1, 2)
    # 600 a minute: the burst of 5 is back after half a second.
    assert sum(allowed(await take_many(buckets, "f", 8, rpm=600, burst=5))) >= 5
    await asyncio.sleep(0.6)
    assert allowed(await take_many(buckets, "f", 5, rpm=600, burst=5)) == [True] * 5


async def test_two_instances_share_one_bucket_exactly(make):
    # A generous timeout: a loaded machine must not send a call to the memory fallback here.
    one, two = make(redis_timeout=10), make(redis_timeout=10)
    # A token a minute: nothing refills during the test. 50 concurrent calls on two "processes".
    calls = [(one if i % 2 else two).take("k", 1, 10) for i in range(50)]
    decisions = await asyncio.gather(*calls)
    assert sum(allowed(list(decisions))) == 10
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(10))
    assert all(d.retry_after >= 1 for d in decisions if not d.allowed)
    assert one.redis_ok and two.redis_ok


async def test_separate_processes_share_one_bucket_exactly(redis_url, prefix):
    """Real processes, each with its own connections, racing for a burst of 37."""
    script = textwrap.dedent(
        f"""
        import asyncio
        from lava_server.api.token_buckets import TokenBuckets

        async def main():
            buckets = TokenBuckets(redis_url={redis_url!r}, prefix={prefix!r}, redis_timeout=10)
            decisions = await asyncio.gather(*(buckets.take("k", 1, 37) for _ in range(60)))
            await buckets.aclose()
            assert buckets.redis_ok
            print(sum(d.allowed for d in decisions))

        asyncio.run(main())
        """
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    counts = []
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        counts.append(int(out))
    assert sum(counts) == 37


async def test_redis_capacity_change(make):
    buckets = make()
    assert allowed(await take_many(buckets, "k", 2, rpm=1, burst=10)) == [True, True]
    decision = await buckets.take("k", 1, 3)  # 8 tokens, capped at 3
    assert decision.allowed and decision.remaining == 2 and decision.limit == 3
    decision = await buckets.take("k", 1, 20)  # a larger burst gives no tokens at once
    assert decision.allowed and decision.remaining == 1
    assert allowed(await take_many(buckets, "k", 2, rpm=1, burst=20)) == [True, False]


async def test_redis_unreachable_falls_back_to_memory(make, caplog):
    caplog.set_level(logging.WARNING, logger="lava_server.ratelimit")
    buckets = make(redis_url=f"redis://127.0.0.1:{_free_port()}/0", retry_interval=0.05)
    started = time.monotonic()
    decisions = await take_many(buckets, "k", 4, rpm=60, burst=3)
    assert allowed(decisions) == [True, True, True, False]
    assert decisions[3].retry_after == 1
    for _ in range(20):
        await asyncio.sleep(0.01)  # background probes fail meanwhile
        assert not (await buckets.take("k", 1, 3)).allowed
    assert time.monotonic() - started < 5.0  # a refused connection is not retried at length
    assert not buckets.redis_ok
    warnings = [r for r in caplog.records if "Redis failed" in r.getMessage()]
    assert len(warnings) == 1  # at most once a minute
    assert "ConnectionError" in warnings[0].getMessage()


async def test_redis_that_does_not_answer_slows_nothing(make, caplog):
    """A server that accepts connections and never answers: the first call waits for the
    timeout, the next ones do not wait at all."""
    caplog.set_level(logging.WARNING, logger="lava_server.ratelimit")
    silent: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        buckets = make(redis_url=f"redis://127.0.0.1:{port}/0", redis_timeout=0.3)
        started = time.monotonic()
        assert (await buckets.take("k", 60, 2)).allowed
        first = time.monotonic() - started
        assert 0.25 <= first < 3.0
        started = time.monotonic()
        assert allowed(await take_many(buckets, "k", 2, rpm=60, burst=2)) == [True, False]
        assert time.monotonic() - started < 0.25  # straight to memory, no wait for Redis
        assert not buckets.redis_ok
        warnings = [r for r in caplog.records if "Redis failed" in r.getMessage()]
        assert len(warnings) == 1 and "TimeoutError" in warnings[0].getMessage()
    finally:
        for writer in silent:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_redis_down_goes_on_from_the_shared_state_and_recovers(
    make, redis_url, prefix, caplog
):
    caplog.set_level(logging.WARNING, logger="lava_server.ratelimit")
    forwarder = Forwarder(redis_url, _free_port())
    buckets = make(redis_url=f"redis://127.0.0.1:{forwarder.port}/0", retry_interval=0.05)
    await forwarder.open()
    try:
        assert allowed(await take_many(buckets, "k", 2, rpm=1, burst=3)) == [True, True]
        assert buckets.redis_ok
    finally:
        await forwarder.close()
    # Redis is gone: this process goes on from what Redis last said (1 token), not from a full
    # bucket.
    assert allowed(await take_many(buckets, "k", 2, rpm=1, burst=3)) == [True, False]
    assert not buckets.redis_ok
    assert len([r for r in caplog.records if "Redis failed" in r.getMessage()]) == 1
    state, _ = await _hash(redis_url, prefix + "k")
    assert int(state[b"tokens"]) // UNIT == 1  # Redis never saw the call made in memory

    await forwarder.open()  # back: the background probe notices, and the bucket is shared again
    try:
        deadline = time.monotonic() + 10
        while not buckets.redis_ok:
            assert time.monotonic() < deadline, "Redis not used again"
            await buckets.take("other", 60, 5)  # calls start the probes
            await asyncio.sleep(0.02)
        assert "answers again" in caplog.records[-1].getMessage()
        decision = await buckets.take("k", 1, 3)
        assert decision.allowed and decision.remaining == 0
        assert not (await buckets.take("k", 1, 3)).allowed
        state, _ = await _hash(redis_url, prefix + "k")
        assert int(state[b"tokens"]) < UNIT
    finally:
        await forwarder.close()


async def test_a_script_redis_does_not_know_is_loaded(make, monkeypatch):
    """The first calls to a Redis that has not seen the script (or restarted) load it, and every
    call of that batch still gets its answer."""
    from lava_server.api import token_buckets

    script = token_buckets._TAKE + f"-- {uuid.uuid4().hex}\n"  # a script no Redis has seen
    monkeypatch.setattr(token_buckets, "_TAKE", script)
    monkeypatch.setattr(
        token_buckets, "_TAKE_SHA", hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()
    )
    buckets = make(redis_timeout=10)
    decisions = await asyncio.gather(*(buckets.take("k", 1, 4) for _ in range(6)))
    assert sum(allowed(list(decisions))) == 4
    assert buckets.redis_ok
