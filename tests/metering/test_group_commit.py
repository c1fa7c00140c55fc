"""The one group commit (`metering.group_commit`) and what it means for a caller that goes away:
a job handed over is written exactly once, by the group commit's own task, whether or not its
caller still waits; the other callers of its batch get their answers."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select

from lava_server.api.auth import hash_secret_key
from lava_server.db.models import Request, Wallet
from lava_server.metering.group_commit import GroupCommit, Job
from lava_server.metering.reported import RequestBatcher
from lava_server.model_prices.book import PriceBook
from lava_server.requests.schemas import RequestCreate
from lava_server.wallets.service import check as ledger_check
from tests.metering.helpers import (
    balance_of,
    forward_billing,
    make_connection,
    make_product,
    report,
)


async def test_a_cancelled_caller_s_job_is_written_once_and_the_batch_answered() -> None:
    written: list[int] = []
    started = asyncio.Event()
    go_on = asyncio.Event()

    async def write(batch: list[Job[int, int]]) -> None:
        started.set()
        await go_on.wait()
        for job in batch:
            written.append(job.item)
            job.resolve(job.item * 10)

    commits: GroupCommit[int, int] = GroupCommit(write)
    first = asyncio.create_task(commits.submit(1))
    second = asyncio.create_task(commits.submit(2))
    await started.wait()
    # A third caller queues behind the batch being written, and goes away before it starts.
    third = asyncio.create_task(commits.submit(3))
    await asyncio.sleep(0)
    first.cancel()
    third.cancel()
    go_on.set()
    assert await second == 20
    with pytest.raises(asyncio.CancelledError):
        await first
    with pytest.raises(asyncio.CancelledError):
        await third
    while commits.busy:
        await asyncio.sleep(0.001)
    assert written == [1, 2, 3]  # each once, the cancelled ones included


async def test_a_result_whose_caller_went_away_goes_to_orphaned() -> None:
    """What the writer gives a cancelled caller is handed to `orphaned` (to be undone); an
    answered caller's result and a failed job's error are not."""
    go_on = asyncio.Event()
    orphans: list[int] = []

    async def write(batch: list[Job[int, int]]) -> None:
        await go_on.wait()
        for job in batch:
            if job.item == 4:
                job.fail(ValueError("refused"))
            else:
                job.resolve(job.item * 10)

    async def orphaned(result: int) -> None:
        orphans.append(result)

    commits: GroupCommit[int, int] = GroupCommit(write, orphaned=orphaned)
    gone = asyncio.create_task(commits.submit(1))
    stays = asyncio.create_task(commits.submit(2))
    refused = asyncio.create_task(commits.submit(4))
    await asyncio.sleep(0.01)
    gone.cancel()
    refused.cancel()
    go_on.set()
    assert await stays == 20
    for task in (gone, refused):
        with pytest.raises(asyncio.CancelledError):
            await task
    while commits.busy or not orphans:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)
    assert orphans == [10]


async def test_finish_waits_for_the_batch_under_way_and_its_orphans() -> None:
    """`finish` returns once the batch being written is written and the `orphaned` call of a
    caller that went away is done."""
    orphans: list[int] = []

    async def write(batch: list[Job[int, int]]) -> None:
        await asyncio.sleep(0.05)
        for job in batch:
            job.resolve(job.item * 10)

    async def orphaned(result: int) -> None:
        await asyncio.sleep(0.05)
        orphans.append(result)

    commits: GroupCommit[int, int] = GroupCommit(write, orphaned=orphaned)
    gone = asyncio.create_task(commits.submit(1))
    await asyncio.sleep(0.01)
    gone.cancel()
    await commits.finish()
    assert orphans == [10] and not commits.busy


async def test_a_failed_batch_fails_its_callers_and_the_next_batch_goes_on() -> None:
    calls = 0

    async def write(batch: list[Job[int, int]]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("broken")
        for job in batch:
            job.resolve(job.item)

    commits: GroupCommit[int, int] = GroupCommit(write)
    with pytest.raises(RuntimeError):
        await commits.submit(1)
    assert await commits.submit(2) == 2


async def test_a_report_whose_caller_is_cancelled_is_charged_exactly_once(
    client, merchant, db, settings, monkeypatch
):
    """POST /v1/requests: the caller of a report goes away while its batch is being written. The
    report is stored and charged once; the other report of the batch is answered; sending the
    report again is a replay that charges nothing."""
    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers, balance="1")
    batcher = RequestBatcher(db, settings, PriceBook())
    started = asyncio.Event()
    go_on = asyncio.Event()
    write_together = RequestBatcher._write_lean_or_not

    async def held_back(self, batch):
        started.set()
        await go_on.wait()
        return await write_together(self, batch)

    monkeypatch.setattr(RequestBatcher, "_write_lean_or_not", held_back)

    def params(request_id: str) -> RequestCreate:
        return RequestCreate(
            request_id=request_id,
            connection_secret=connection["connection_secret"],
            product_secret=product["product_secret"],
            input_tokens=500,
            output_tokens=200,
        )

    key_hash = hash_secret_key(merchant.secret_key)
    gone = asyncio.create_task(batcher.submit(key_hash, params("r-gone")))
    stays = asyncio.create_task(batcher.submit(key_hash, params("r-stays")))
    await started.wait()
    gone.cancel()
    go_on.set()
    created = await stays
    assert created.created and created.request.request_id == "r-stays"
    with pytest.raises(asyncio.CancelledError):
        await gone
    monkeypatch.setattr(RequestBatcher, "_write_lean_or_not", write_together)
    await batcher.aclose()

    stored = await client.get("/v1/requests/r-gone", headers=merchant.headers)
    assert stored.status_code == 200, stored.text
    cost = Decimal(stored.json()["total_wallet_cost"])
    assert cost > 0
    balance = Decimal(1) - 2 * cost
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == balance
    again = await report(
        client, merchant.headers, connection, product, "r-gone", input_tokens=500, output_tokens=200
    )
    assert again.status_code == 200, again.text  # a replay: charged nothing more
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == balance
    assert (await ledger_check(db)).problems == []


async def test_a_hold_whose_caller_went_away_is_released(
    client, merchant, db, settings, monkeypatch
):
    """A forward call's caller is cancelled while its quick hold is being written: the hold is
    taken by the group commit's task all the same, and released at once (the request stored as
    `error`, nothing held, nothing charged), not left until the server restarts."""

    billing, connection, _, _, hold, _ = await forward_billing(client, db, settings, merchant, "10")
    try:
        await billing.release(await hold(0))  # the product is learnt
        holds = type(billing._holds)
        hold_many = holds.hold_many
        started, go_on = asyncio.Event(), asyncio.Event()

        async def held_back(self, batch):
            started.set()
            await go_on.wait()
            return await hold_many(self, batch)

        monkeypatch.setattr(holds, "hold_many", held_back)
        gone = asyncio.create_task(hold(1))
        await started.wait()
        gone.cancel()
        go_on.set()
        with pytest.raises(asyncio.CancelledError):
            await gone
        for _ in range(500):
            async with db.read() as session:
                status = await session.scalar(
                    select(Request.status).where(Request.request_id == "call-1")
                )
            if status == "error":
                break
            await asyncio.sleep(0.01)
        assert status == "error"  # taken, then released
    finally:
        await billing.aclose()
    async with db.read() as session:
        held = await session.scalar(select(Wallet.held).where(Wallet.held != 0))
    assert held is None  # no wallet holds anything
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == 10
    assert (await ledger_check(db)).problems == []


async def test_closing_waits_for_a_hold_whose_caller_went_away_to_be_released(
    client, merchant, db, settings, monkeypatch
):
    """At shutdown, a hold being written for a call that went away is written and released
    before the billing's connections close: nothing stays held."""
    billing, connection, _, _, hold, _ = await forward_billing(client, db, settings, merchant, "10")
    closed = False
    try:
        await billing.release(await hold(0))  # the product is learnt
        holds = type(billing._holds)
        hold_many = holds.hold_many
        started = asyncio.Event()

        async def slow(self, batch):
            started.set()
            await asyncio.sleep(0.2)
            return await hold_many(self, batch)

        monkeypatch.setattr(holds, "hold_many", slow)
        gone = asyncio.create_task(hold(1))
        await started.wait()
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        await billing.aclose()  # at once: the hold is still being written
        closed = True
    finally:
        if not closed:
            await billing.aclose()
    async with db.read() as session:
        status = await session.scalar(select(Request.status).where(Request.request_id == "call-1"))
        held = await session.scalar(select(Wallet.held).where(Wallet.held != 0))
    assert status == "error"  # taken, then released
    assert held is None
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == 10
    assert (await ledger_check(db)).problems == []


async def test_closing_the_batcher_writes_the_report_under_way(
    client, merchant, db, settings, monkeypatch
):
    """At shutdown, a report being written for a caller that went away is stored and charged
    before the batcher's connection closes."""
    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers, balance="1")
    batcher = RequestBatcher(db, settings, PriceBook())
    started = asyncio.Event()
    write_together = RequestBatcher._write_lean_or_not

    async def slow(self, batch):
        started.set()
        await asyncio.sleep(0.2)
        return await write_together(self, batch)

    monkeypatch.setattr(RequestBatcher, "_write_lean_or_not", slow)
    params = RequestCreate(
        request_id="r-late",
        connection_secret=connection["connection_secret"],
        product_secret=product["product_secret"],
        input_tokens=500,
        output_tokens=200,
    )
    gone = asyncio.create_task(batcher.submit(hash_secret_key(merchant.secret_key), params))
    await started.wait()
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    await batcher.aclose()  # at once: the report is still being written
    stored = await client.get("/v1/requests/r-late", headers=merchant.headers)
    assert stored.status_code == 200, stored.text
    cost = Decimal(stored.json()["total_wallet_cost"])
    assert cost > 0
    balance = await balance_of(client, merchant.headers, connection["connection_id"])
    assert balance == Decimal(1) - cost
    assert (await ledger_check(db)).problems == []
