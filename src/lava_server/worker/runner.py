"""One round of the worker (`run_once`), the loop (`run_forever`), and the `lava worker` process.

Every round works from one reading of the clock, so tests can move time and run a round. Each
piece of work is its own short transaction under the same locks the API takes, so any number of
workers (and `lava serve` processes) can run rounds at once without doing anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from fastapi import FastAPI

from lava_server.checkout import flow
from lava_server.db.engine import Database
from lava_server.metering import top_up
from lava_server.metering.abandoned import release_abandoned
from lava_server.money_ops import service as refunds
from lava_server.payments import repository as payment_records
from lava_server.payments import service as payments
from lava_server.payments.context import Billing
from lava_server.payments.interface import ChargeResult
from lava_server.payments.repository import AUTO_TOP_UP, CHECKOUT, PENDING, RENEWAL
from lava_server.settings import Settings
from lava_server.subscriptions import renewals
from lava_server.wallets import autopay
from lava_server.wallets import repository as wallet_records
from lava_server.wallets.credit import expire_credit
from lava_server.wallets.ledger import lock_wallet

log = logging.getLogger("lava_server.worker")
BATCH = 100


@dataclass(frozen=True)
class Round:
    credit_expired: int  # wallets whose period credit expired
    renewals_queued: int
    autopay_queued: int  # top-ups, and retries of declined ones (`payments.dunning`)
    payments_processed: int
    holds_released: int = 0  # forward calls abandoned by a server process that died
    refunds_retried: int = 0  # refunds whose provider had not answered (`money_ops.service`)


async def run_once(billing: Billing, now: datetime | None = None) -> Round:
    now = now or billing.now()
    return Round(
        credit_expired=await expire_due_credit(billing, now),
        renewals_queued=await renewals.queue_due(billing, now),
        autopay_queued=await queue_autopay(billing, now) + await retry_autopay(billing, now),
        payments_processed=await process_due_payments(billing, now),
        holds_released=await release_abandoned(
            billing.db, billing.settings.abandoned_after_seconds, now
        ),
        refunds_retried=await retry_pending_refunds(billing, now),
    )


async def retry_pending_refunds(billing: Billing, now: datetime) -> int:
    """Ask the provider again, with the same key, about refunds left pending for over
    `payments.service.LEASE` (its request got no answer, or died): each ends once."""
    async with billing.db.read() as session:
        due = await payment_records.pending_refunds(session, now - payments.LEASE, BATCH)
    for refund_id in due:
        await refunds.finish_pending(billing, refund_id)
    return len(due)


async def run_forever(billing: Billing, stop: asyncio.Event) -> None:
    interval = billing.settings.worker_interval_seconds
    while not stop.is_set():
        try:
            done = await run_once(billing)
            if done != Round(0, 0, 0, 0):
                log.info("worker round: %s", done)
        except Exception:
            log.exception("worker round failed; retrying in %s s", interval)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


async def expire_due_credit(billing: Billing, now: datetime) -> int:
    async with billing.db.read() as session:
        due = await wallet_records.wallets_with_credit_due(session, now, BATCH)
    for wallet_id in due:
        async with billing.db.write() as session:
            await lock_wallet(session, wallet_id)
            await expire_credit(session, wallet_id, now)
    return len(due)


async def queue_autopay(billing: Billing, now: datetime) -> int:
    """The backstop for debits that did not queue the top-up their wallet needs (a cooldown was
    running, say)."""
    async with billing.db.read() as session:
        needing = await wallet_records.wallets_needing_topup(session, BATCH)
    queued = 0
    for wallet_id in needing:
        async with billing.db.write() as session:
            await lock_wallet(session, wallet_id)
            if await autopay.queue_if_due(session, billing.settings, wallet_id, now) is not None:
                queued += 1
    return queued


async def retry_autopay(billing: Billing, now: datetime) -> int:
    """Declined autopay top-ups whose next retry is due (`payments.dunning`)."""
    async with billing.db.read() as session:
        due = await wallet_records.wallets_due_autopay_retry(session, now, BATCH)
    queued = 0
    for wallet_id in due:
        async with billing.db.write() as session:
            await lock_wallet(session, wallet_id)
            if await autopay.retry_if_due(session, wallet_id, now) is not None:
                queued += 1
    return queued


async def process_due_payments(billing: Billing, now: datetime) -> int:
    """Charge every pending payment that is due (new renewals, autopay top-ups and auto top-up
    bundles, retries, and
    checkout payments whose page request died), each with its own idempotency key."""
    async with billing.db.read() as session:
        due = await payment_records.due_payments(session, now, BATCH)
    processed = 0
    for payment_id in due:
        async with billing.db.write() as session:
            payment = await payment_records.lock_payment(session, payment_id)
            if payment is None or payment.status != PENDING:
                continue
            if payment.next_attempt_at > now:
                continue  # another worker took it
            payment.next_attempt_at = now + payments.LEASE
            request = await payments.charge_request(session, payment)
        result = await payments.charge(billing, request)
        await settle(billing, request, result, now)
        processed += 1
    return processed


async def settle(
    billing: Billing, request: payments.ChargeRequest, result: ChargeResult, now: datetime
) -> None:
    if request.purpose == CHECKOUT:
        await flow.settle(billing, request.payment_id, result, now)
        return
    async with billing.db.write() as session:
        await lock_wallet(session, request.wallet_id)
        payment = await payment_records.lock_payment(session, request.payment_id)
        assert payment is not None
        if payment.status != PENDING:
            return
        if request.purpose == RENEWAL:
            await renewals.settle(session, payment, result, now)
        elif request.purpose == AUTO_TOP_UP:
            await top_up.settle(session, payment, result, now)
        else:
            await autopay.settle(session, payment, result, now)


def embed_in(app: FastAPI) -> None:
    """Run the worker loop for as long as `app` runs (`lava serve` without a separate worker).
    It uses `app.state.billing` as found at startup."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[None]:
        async with inner(running):
            stop = asyncio.Event()
            task = asyncio.create_task(run_forever(running.state.billing, stop))
            try:
                yield
            finally:
                stop.set()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, 30)

    app.router.lifespan_context = lifespan


async def run_process(settings: Settings, *, once: bool) -> Round | None:
    """`lava worker`: rounds until SIGINT or SIGTERM (or one round with `once`)."""
    db = Database(settings.database_url, pool_size=2)
    billing = Billing(settings, db)
    try:
        if once:
            return await run_once(billing)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        log.info("worker running every %s s", settings.worker_interval_seconds)
        await run_forever(billing, stop)
        log.info("worker stopped")
        return None
    finally:
        await db.dispose()
