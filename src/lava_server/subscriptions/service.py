"""Plans, active subscriptions, and what starting, renewing and ending one does to its wallet."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server import outbox
from lava_server.api.auth import Caller
from lava_server.db.engine import Database
from lava_server.db.models import (
    ActiveSubscription,
    Payment,
    PaymentMethod,
    SubscriptionConfig,
    Wallet,
)
from lava_server.errors import Conflict, NotFound
from lava_server.ids import new_id
from lava_server.payments.repository import FAILED
from lava_server.periods import cycle_start
from lava_server.pricing import format_money
from lava_server.subscriptions import repository
from lava_server.subscriptions.repository import ACTIVE, CANCELLED
from lava_server.subscriptions.schemas import (
    RestActiveSubscription,
    RestSubscriptionConfig,
    RolloverType,
    SubscriptionConfigCreate,
    SubscriptionConfigUpdate,
    SubscriptionStatus,
    SubscriptionWallet,
)
from lava_server.timeutil import iso
from lava_server.wallets.credit import end_credit_at, expire_credit, grant_credit
from lava_server.wallets.ledger import lock_wallet
from lava_server.wallets.repository import get_wallet

CANCELLED_BY_MERCHANT = "cancelled"
PAYMENT_FAILED = "payment_failed"


def render_config(config: SubscriptionConfig) -> RestSubscriptionConfig:
    """The seed's `RestSubscriptionConfig`."""
    return {
        "subscription_config_id": config.id,
        "merchant_id": config.merchant_id,
        "name": config.name,
        "period_amount": format_money(config.period_amount),
        "rollover_type": cast(RolloverType, config.rollover_type),
        "created_at": iso(config.created_at),
    }


def render_subscription(
    subscription: ActiveSubscription, config: SubscriptionConfig, wallet: Wallet
) -> RestActiveSubscription:
    """The seed's `RestActiveSubscription`, plus `connection_id` and the current period."""
    wallet_body: SubscriptionWallet = {
        "wallet_id": wallet.id,
        "phone": wallet.phone or "",
        "active_balance": format_money(wallet.balance - wallet.held),
        "created_at": iso(wallet.created_at),
    }
    if wallet.email is not None:
        wallet_body["email"] = wallet.email
    if wallet.first_name is not None:
        wallet_body["first_name"] = wallet.first_name
    if wallet.last_name is not None:
        wallet_body["last_name"] = wallet.last_name
    body: RestActiveSubscription = {
        "active_subscription_id": subscription.id,
        "wallet_id": subscription.wallet_id,
        "subscription_config_id": subscription.subscription_config_id,
        "started_at": iso(subscription.started_at),
        "billing_anchor": subscription.billing_anchor,
        "status": cast(SubscriptionStatus, subscription.status),
        "created_at": iso(subscription.created_at),
        "subscription_config": render_config(config),
        "wallet": wallet_body,
        "connection_id": subscription.connection_id,
        "current_period_start": iso(subscription.current_period_start),
        "current_period_end": iso(subscription.current_period_end),
    }
    if subscription.cancelled_at is not None:
        body["cancelled_at"] = iso(subscription.cancelled_at)
    return body


async def create_config(
    db: Database, caller: Caller, params: SubscriptionConfigCreate, now: datetime
) -> SubscriptionConfig:
    config = SubscriptionConfig(
        id=new_id("sc", caller.livemode),
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        name=params.name,
        period_amount=params.period_amount,
        rollover_type=params.rollover_type,
        created_at=now,
        updated_at=now,
    )
    async with db.write() as session:
        await repository.add_config(session, config)
    return config


async def list_configs(db: Database, caller: Caller) -> list[SubscriptionConfig]:
    async with db.read() as session:
        return list(await repository.list_configs(session, caller.merchant_id, caller.livemode))


async def update_config(
    db: Database, caller: Caller, config_id: str, params: SubscriptionConfigUpdate, now: datetime
) -> SubscriptionConfig:
    async with db.write() as session:
        config = await repository.get_config(
            session, caller.merchant_id, caller.livemode, config_id
        )
        if config is None:
            raise NotFound(f"No subscription config {config_id}.", param="subscription_config_id")
        for field, value in params.model_dump(exclude_none=True).items():
            setattr(config, field, value)
        config.updated_at = now
    return config


async def delete_config(db: Database, caller: Caller, config_id: str, now: datetime) -> None:
    """Soft delete (cancelled subscriptions still show their plan); refused while in use."""
    async with db.write() as session:
        config = await repository.get_config(
            session, caller.merchant_id, caller.livemode, config_id
        )
        if config is None:
            raise NotFound(f"No subscription config {config_id}.", param="subscription_config_id")
        if await repository.config_in_use(session, config.id):
            raise Conflict(
                f"Subscription config {config_id} has active subscriptions; cancel them first.",
                param="subscription_config_id",
            )
        config.deleted_at = now


async def list_subscriptions(db: Database, caller: Caller) -> list[RestActiveSubscription]:
    async with db.read() as session:
        rows = await repository.list_subscriptions(session, caller.merchant_id, caller.livemode)
    return [render_subscription(*row) for row in rows]


async def cancel(db: Database, caller: Caller, subscription_id: str, now: datetime) -> None:
    """No further renewals; credit already granted stays spendable until the period's end.
    Cancelling a cancelled subscription changes nothing."""
    async with db.write() as session:
        found = await repository.get_subscription(
            session, caller.merchant_id, caller.livemode, subscription_id
        )
        if found is None:
            raise NotFound(f"No active subscription {subscription_id}.", param="id")
        if found.status != ACTIVE:
            return
        await lock_wallet(session, found.wallet_id)
        subscription = await repository.lock_subscription(session, found.id)
        if subscription.status != ACTIVE:
            return
        await end(session, subscription, CANCELLED_BY_MERCHANT, now)
        await _drop_unstarted_renewals(session, subscription.id, now)


async def end(
    session: AsyncSession, subscription: ActiveSubscription, reason: str, now: datetime
) -> None:
    """Stop a subscription: its cycle, and its credit, end with its current period. The caller
    holds the wallet's lock and the subscription's."""
    subscription.status = CANCELLED
    subscription.cancelled_at = now
    subscription.cancel_reason = reason
    ends_at = subscription.current_period_end
    await repository.end_wallet_cycle(session, subscription.wallet_id, ends_at)
    await end_credit_at(session, subscription.wallet_id, subscription.id, ends_at)
    if ends_at <= now:
        await expire_credit(session, subscription.wallet_id, now)
    if reason == PAYMENT_FAILED:
        await _report(session, outbox.SUBSCRIPTION_PAYMENT_FAILED, subscription, now)
    await _report(session, outbox.SUBSCRIPTION_CANCELLED, subscription, now)


async def _report(
    session: AsyncSession, event_type: str, subscription: ActiveSubscription, now: datetime
) -> None:
    """Write the subscription's event (`docs/webhooks.md`), its data as the API shows it."""
    await session.flush()
    config = await repository.config_by_id(session, subscription.subscription_config_id)
    wallet = await get_wallet(session, subscription.wallet_id, fresh=True)
    assert config is not None and wallet is not None
    await outbox.record(
        session,
        event_type,
        object_id=subscription.id,
        merchant_id=subscription.merchant_id,
        livemode=subscription.livemode,
        data=dict(render_subscription(subscription, config, wallet)),
        now=now,
    )


async def _drop_unstarted_renewals(
    session: AsyncSession, subscription_id: str, now: datetime
) -> None:
    """A renewal charge not yet sent to the provider is dropped. One that was sent (or is being
    sent) settles normally; its money then lands as purchased credit."""
    for payment in await repository.lock_pending_renewals(session, subscription_id):
        if payment.attempts == 0 and payment.next_attempt_at <= now:
            payment.status = FAILED
            payment.failure_code = "subscription_cancelled"
            payment.failure_message = "The subscription was cancelled before this renewal."
            payment.completed_at = now


async def start(
    session: AsyncSession,
    *,
    merchant_id: str,
    livemode: bool,
    wallet_id: str,
    connection_id: str,
    config: SubscriptionConfig,
    method: PaymentMethod,
    payment: Payment,
    now: datetime,
) -> ActiveSubscription:
    """Create the subscription its first (succeeded, credited) payment paid for, start the
    wallet's cycle, and grant the first period's credit. The caller holds the wallet's lock."""
    subscription = ActiveSubscription(
        id=new_id("as", livemode),
        merchant_id=merchant_id,
        livemode=livemode,
        wallet_id=wallet_id,
        connection_id=connection_id,
        subscription_config_id=config.id,
        payment_method_id=method.id,
        status=ACTIVE,
        started_at=now,
        billing_anchor=now.day,
        period_index=0,
        current_period_start=now,
        current_period_end=cycle_start(now, 1),
        created_at=now,
    )
    await repository.add_subscription(session, subscription)
    await repository.start_wallet_cycle(session, wallet_id, now)
    await _grant_period(session, subscription, config, payment, now)
    payment.active_subscription_id = subscription.id
    payment.period_index = 0
    await _report(session, outbox.SUBSCRIPTION_CREATED, subscription, now)
    return subscription


async def _grant_period(
    session: AsyncSession,
    subscription: ActiveSubscription,
    config: SubscriptionConfig,
    payment: Payment,
    now: datetime,
) -> None:
    await grant_credit(
        session,
        wallet_id=subscription.wallet_id,
        livemode=subscription.livemode,
        merchant_id=subscription.merchant_id,
        active_subscription_id=subscription.id,
        payment_id=payment.id,
        amount=payment.amount,
        expires_at=subscription.current_period_end if config.rollover_type == "none" else None,
        now=now,
    )


async def renewed(
    session: AsyncSession, subscription: ActiveSubscription, payment: Payment, now: datetime
) -> None:
    """A renewal payment succeeded (and was credited): move to its period and grant its credit.
    For a subscription cancelled meanwhile, the money stays as purchased credit."""
    if subscription.status != ACTIVE or payment.period_index is None:
        return
    index = payment.period_index
    subscription.period_index = index
    subscription.current_period_start = cycle_start(subscription.started_at, index)
    subscription.current_period_end = cycle_start(subscription.started_at, index + 1)
    config = await repository.config_by_id(session, subscription.subscription_config_id)
    assert config is not None
    await _grant_period(session, subscription, config, payment, now)
    await _report(session, outbox.SUBSCRIPTION_RENEWED, subscription, now)
