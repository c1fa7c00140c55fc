"""A claim on an `Idempotency-Key` whose server process died before answering (the multi-host
test kills a host mid-request): a retry takes the claim over once the process has not been seen
alive for `abandoned_after_seconds` and the claim is that old; a live process's claim is never
taken. A merchant's grant whose first answer was lost is replayed, not made twice."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from lava_server.db.models import BalanceOperation, IdempotencyKey, ServerProcess
from tests.money_ops.helpers import money, new_customer

PRODUCT = {"name": "Chat", "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}]}


async def orphan(db, key: str, *, process: str, age: timedelta) -> None:
    """The key's first request 'died' before its answer was stored, `age` ago, in `process`."""
    async with db.write() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == key)
            .values(
                status_code=None,
                response_body=None,
                process_id=process,
                created_at=datetime.now(timezone.utc) - age,
            )
        )


async def test_a_dead_process_claim_is_taken_over_by_a_retry(client, db, merchant):
    headers = {**merchant.headers, "Idempotency-Key": "orphan-1"}
    body = {"name": "Chat", "reference_id": "c-1"}
    first = await client.post("/v1/customers", json=body, headers=headers)
    assert first.status_code == 201, first.text
    async with db.write() as session:  # the process that ran it is gone (never seen, or stale)
        session.add(
            ServerProcess(
                id="proc_dead",
                host="h1",
                pid=1,
                started_at=datetime.now(timezone.utc) - timedelta(hours=1),
                seen_at=datetime.now(timezone.utc) - timedelta(minutes=5),
            )
        )
    await orphan(db, "orphan-1", process="proc_dead", age=timedelta(seconds=30))
    early = await client.post("/v1/customers", json=body, headers=headers)
    assert early.status_code == 409  # too recent: it may still be running
    await orphan(db, "orphan-1", process="proc_dead", age=timedelta(minutes=2))
    different = await client.post(
        "/v1/customers", json={**body, "reference_id": "c-2"}, headers=headers
    )
    assert different.status_code == 409 and "different request" in different.text
    retried = await client.post("/v1/customers", json=body, headers=headers)
    assert retried.status_code in (200, 201), retried.text
    again = await client.post("/v1/customers", json=body, headers=headers)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == retried.json()


async def test_a_live_process_claim_is_never_taken(client, db, merchant):
    headers = {**merchant.headers, "Idempotency-Key": "alive-1"}
    first = await client.post("/v1/products", json=PRODUCT, headers=headers)
    assert first.status_code == 201, first.text
    async with db.write() as session:
        session.add(
            ServerProcess(
                id="proc_alive",
                host="h2",
                pid=2,
                started_at=datetime.now(timezone.utc) - timedelta(hours=1),
                seen_at=datetime.now(timezone.utc),
            )
        )
    await orphan(db, "alive-1", process="proc_alive", age=timedelta(minutes=10))
    refused = await client.post("/v1/products", json=PRODUCT, headers=headers)
    assert refused.status_code == 409 and "still being processed" in refused.text
    listed = (await client.get("/v1/products", headers=merchant.headers)).json()["data"]
    assert len(listed) == 1


@pytest.mark.parametrize("kind", ["credits", "adjustments"])
async def test_a_grant_whose_answer_was_lost_is_not_made_twice(client, db, merchant, kind):
    customer = await new_customer(client, merchant.headers)
    headers = {**merchant.headers, "Idempotency-Key": f"grant-{kind}"}
    if kind == "adjustments":  # an adjustment down needs money to take
        await client.post(
            f"/v1/customers/{customer}/credits",
            json={"amount": "10", "reason": "start"},
            headers=merchant.headers,
        )
    body = {"amount": "5", "reason": "goodwill"}
    first = await client.post(f"/v1/customers/{customer}/{kind}", json=body, headers=headers)
    assert first.status_code == 201, first.text
    before = await money(client, merchant.headers, customer)
    # The server died after the grant committed, before its answer was stored.
    await orphan(db, f"grant-{kind}", process="proc_gone", age=timedelta(minutes=2))
    retried = await client.post(f"/v1/customers/{customer}/{kind}", json=body, headers=headers)
    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == first.json()["id"]
    assert await money(client, merchant.headers, customer) == before
    async with db.read() as session:
        made = (
            await session.execute(
                select(BalanceOperation).where(BalanceOperation.reason == "goodwill")
            )
        ).scalars()
        assert len(list(made)) == 1
    assert before == (Decimal(5) if kind == "credits" else Decimal(15))
