"""Renewals: at each period start (on the billing anchor) the worker queues a charge of the
plan's current `period_amount` to the subscription's saved card; when it succeeds the wallet is
credited and granted that much period credit for the new period. A declined renewal is retried
on the dunning schedule (`payments.dunning`: 1, 3 and 5 days after the first decline, on the card
saved last, each decline a `subscription.payment_failed` event), then the subscription is
cancelled. One renewal per period: its idempotency key is the subscription and the period's
index (and the retry's number). When the worker comes back after a long stop, only the period
holding "now" is charged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import ActiveSubscription, Payment, PaymentMethod
from lava_server.payments import dunning
from lava_server.payments import repository as payment_records
from lava_server.payments.context import Billing
from lava_server.payments.interface import ChargeResult
from lava_server.payments.repository import FAILED, RENEWAL, SUCCEEDED
from lava_server.payments.service import new_payment, record_outcome
from lava_server.periods import interval_index
from lava_server.subscriptions import repository, service
from lava_server.subscriptions.repository import ACTIVE
from lava_server.wallets.ledger import lock_wallet
from lava_server.wallets.service import credit_payment

BATCH = 100


async def queue_due(billing: Billing, now: datetime) -> int:
    """Queue the renewal of every active subscription whose period has ended; returns how many."""
    async with billing.db.read() as session:
        due = await repository.due_for_renewal(session, now, BATCH)
    queued = 0
    for subscription_id in due:
        queued += await _queue(billing, subscription_id, now)
    return queued


async def _queue(billing: Billing, subscription_id: str, now: datetime) -> int:
    async with billing.db.write() as session:
        found = await repository.subscription_by_id(session, subscription_id)
        assert found is not None
        await lock_wallet(session, found.wallet_id)
        subscription = await repository.lock_subscription(session, subscription_id)
        if subscription.status != ACTIVE or subscription.current_period_end > now:
            return 0
        if await repository.renewal_pending(session, subscription.id):
            return 0
        if await service.finish_pending(session, subscription, now):
            return 0  # cancelled at the end of its cycle
        config = await repository.config_by_id(session, subscription.subscription_config_id)
        assert config is not None
        index = interval_index(subscription.started_at, now, config.billing_interval)
        if config.period_amount == 0:
            await service.renewed_free(session, subscription, config, index, now)
            return 0
        key = f"{subscription.id}:renewal:{index}"
        if subscription.past_due_since is not None:  # a retry of the dunning schedule
            retry_at = subscription.next_payment_retry_at
            if retry_at is None or retry_at > now:
                return 0
            subscription.payment_retries += 1
            subscription.next_payment_retry_at = None
            key = f"{key}:retry:{subscription.payment_retries}"
        if await payment_records.key_used(session, key):
            return 0
        method = await _card_for(session, subscription)
        if method is None:  # no card left to charge: a decline that needed no provider
            await _declined(session, subscription, "no_payment_method", now)
            return 0
        await payment_records.add_payment(
            session,
            new_payment(
                purpose=RENEWAL,
                idempotency_key=key,
                method=method,
                amount=config.period_amount,
                merchant_id=subscription.merchant_id,
                now=now,
                next_attempt_at=now,
                active_subscription_id=subscription.id,
                period_index=index,
            ),
        )
        return 1


async def settle(
    session: AsyncSession, payment: Payment, result: ChargeResult, now: datetime
) -> None:
    """Record a renewal charge's outcome. The caller holds the wallet's lock and the payment's."""
    assert payment.active_subscription_id is not None
    subscription = await repository.lock_subscription(session, payment.active_subscription_id)
    record_outcome(payment, result, now)
    if payment.status == SUCCEEDED:
        await credit_payment(session, payment, now)
        await service.renewed(session, subscription, payment, now)
    elif payment.status == FAILED and subscription.status == ACTIVE:
        await _declined(session, subscription, payment.failure_code, now)


async def _card_for(
    session: AsyncSession, subscription: ActiveSubscription
) -> PaymentMethod | None:
    """The subscription's card; a retry, or a card removed at the provider, takes the card the
    wallet saved last."""
    if subscription.past_due_since is None and subscription.payment_method_id is not None:
        method = await payment_records.usable_method(session, subscription.payment_method_id)
        if method is not None:
            return method
    return await payment_records.latest_method(session, subscription.wallet_id)


async def _declined(
    session: AsyncSession, subscription: ActiveSubscription, failure_code: str | None, now: datetime
) -> None:
    """Schedule the next retry (and say so), or cancel the subscription once the schedule is
    over."""
    first = subscription.past_due_since or now
    retry_at = dunning.next_retry_at(first, subscription.payment_retries, failure_code)
    if retry_at is None:
        await service.end(session, subscription, service.PAYMENT_FAILED, now)
        return
    subscription.past_due_since = first
    subscription.next_payment_retry_at = retry_at
    await service.payment_failed(session, subscription, now)
