"""`spend_keys.repository.reserve` and `release` (`docs/current-api.md#spend-keys`): a key's
allowance taken in one conditional UPDATE, on both databases (the hold runs it: see
`tests/proxy/test_spend_key_calls.py`). These tests hold the statements to their promise: a limit
is never passed, not by concurrent reservations either, cycles start afresh after their boundary,
a release gives back only to the cycle that took, and a key rotated away takes nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from lava_server.db.models import SpendKey
from lava_server.spend_keys import repository

CENT = Decimal("0.01")


async def make_key(client, merchant, **body) -> str:
    made = await client.post("/v1/spend_keys", json={"name": "k", **body}, headers=merchant.headers)
    assert made.status_code == 201, made.text
    return str(made.json()["spend_key_id"])


async def row(db, key_id: str) -> SpendKey:
    async with db.read() as session:
        found = await session.get(SpendKey, key_id)
        assert found is not None
        return found


async def reserve(db, key_id: str, amount: Decimal, now: datetime, key_hash: str = "") -> bool:
    async with db.write() as session:
        if not key_hash:
            found = await session.get(SpendKey, key_id)
            key_hash = found.key_hash if found is not None else "unknown"
        return await repository.reserve(session, key_id, key_hash, amount, now)


async def test_the_spend_limit_is_never_passed(client, merchant, db, clock):
    key = await make_key(client, merchant, spend_limit={"amount": "0.05", "cycle": "daily"})
    now = clock.now
    taken = [await reserve(db, key, CENT * 2, now) for _ in range(3)]
    assert taken == [True, True, False]  # 0.04 spent; 0.06 would pass the limit
    assert await reserve(db, key, CENT, now)  # exactly the limit
    assert not await reserve(db, key, Decimal("0.0000000001"), now)
    found = await row(db, key)
    assert found.current_spend == found.total_spend == Decimal("0.05")
    assert found.current_requests == found.total_requests == 3
    assert found.last_used_at == now


async def test_the_request_limit_and_the_key_state(client, merchant, db, clock):
    key = await make_key(client, merchant, request_limit={"count": 2, "cycle": "total"})
    now = clock.now
    assert [await reserve(db, key, Decimal(0), now) for _ in range(3)] == [True, True, False]
    # A total never resets.
    assert not await reserve(db, key, Decimal(0), now + timedelta(days=400))

    other = await make_key(client, merchant, expires_at="2030-01-01T00:00:00Z")
    assert not await reserve(db, other, CENT, datetime(2030, 1, 1, tzinfo=timezone.utc))
    assert await reserve(db, other, CENT, datetime(2029, 12, 31, 23, tzinfo=timezone.utc))
    path = f"/v1/spend_keys/{other}"
    await client.put(path, json={"status": "paused"}, headers=merchant.headers)
    assert not await reserve(db, other, CENT, clock.now)
    await client.put(path, json={"status": "active"}, headers=merchant.headers)
    assert await reserve(db, other, CENT, clock.now)
    old_hash = (await row(db, other)).key_hash
    await client.post(f"{path}/rotate", headers=merchant.headers)
    assert not await reserve(db, other, CENT, clock.now, key_hash=old_hash)
    assert await reserve(db, other, CENT, clock.now)
    await client.delete(path, headers=merchant.headers)
    assert not await reserve(db, other, CENT, clock.now)
    assert not await reserve(db, "spk_test_missing", CENT, clock.now)


async def test_a_new_cycle_starts_after_its_boundary(client, merchant, db, clock):
    clock.now = datetime(2026, 12, 6, 23, 0, tzinfo=timezone.utc)  # a Sunday
    key = await make_key(
        client,
        merchant,
        spend_limit={"amount": "0.02", "cycle": "weekly"},
        request_limit={"count": 1, "cycle": "daily"},
    )
    assert await reserve(db, key, CENT * 2, clock.now)
    assert not await reserve(db, key, Decimal(0), clock.now + timedelta(minutes=59))
    monday = datetime(2026, 12, 7, 0, 0, tzinfo=timezone.utc)
    assert await reserve(db, key, CENT * 2, monday)  # a new day and a new ISO week
    found = await row(db, key)
    assert found.current_spend == CENT * 2 and found.total_spend == CENT * 4
    assert found.current_requests == 1 and found.total_requests == 2
    assert found.spend_cycle_started_at == found.request_cycle_started_at == monday
    clock.now = monday + timedelta(days=1)
    answer = (await client.get(f"/v1/spend_keys/{key}", headers=merchant.headers)).json()
    assert answer["current_requests"] == 0 and answer["current_spend"] == "0.0200000000"


async def test_release_gives_back_to_the_cycle_that_took(client, merchant, db, clock):
    clock.now = datetime(2026, 12, 7, 23, 59, tzinfo=timezone.utc)
    key = await make_key(client, merchant, spend_limit={"amount": "1", "cycle": "daily"})
    reserved_at = clock.now
    assert await reserve(db, key, Decimal("0.5"), reserved_at)
    async with db.write() as session:
        await repository.release(session, key, Decimal("0.3"), reserved_at)
    found = await row(db, key)
    assert found.current_spend == found.total_spend == Decimal("0.2")

    # A call reserved before midnight and settled after a new cycle started owes that cycle
    # nothing: only the lifetime total is given back.
    assert await reserve(db, key, Decimal("0.5"), reserved_at)
    after = reserved_at + timedelta(minutes=2)
    assert await reserve(db, key, Decimal("0.1"), after)
    async with db.write() as session:
        await repository.release(session, key, Decimal("0.5"), reserved_at, requests=1)
    found = await row(db, key)
    assert found.current_spend == Decimal("0.1") and found.total_spend == Decimal("0.3")
    # Without a request limit the count's cycle is the key's life: the request is given back.
    assert found.current_requests == found.total_requests == 2


async def test_concurrent_reservations_never_pass_the_limits(client, merchant, db, clock):
    """Many sessions at once on one key (on PostgreSQL, truly concurrent transactions): exactly
    the limit's worth succeed."""
    spend = await make_key(client, merchant, spend_limit={"amount": "0.05", "cycle": "daily"})
    count = await make_key(client, merchant, request_limit={"count": 7, "cycle": "monthly"})
    now = clock.now

    async def many(key: str, amount: Decimal, n: int) -> int:
        results = await asyncio.gather(*(reserve(db, key, amount, now) for _ in range(n)))
        return sum(results)

    assert await many(spend, CENT, 40) == 5
    assert await many(count, Decimal(0), 40) == 7
    assert (await row(db, spend)).current_spend == Decimal("0.05")
    assert (await row(db, count)).current_requests == 7
