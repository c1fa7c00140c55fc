"""The current API's subscriptions (`docs/current-api.md#subscriptions`): an active
subscription of the seed era (same id, same wallet and connection) with its plan, its credit
by kind and the change pending at the end of its cycle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.api.auth import Caller
from lava_server.connections import service as connections
from lava_server.db.engine import Database
from lava_server.db.models import ActiveSubscription, Connection, SubscriptionConfig, Wallet
from lava_server.errors import Conflict, InvalidRequest, NotFound
from lava_server.pricing import format_money
from lava_server.subscriptions import plans, repository, service
from lava_server.subscriptions.current_schemas import (
    BillingInterval,
    PendingChange,
    RestSubscription,
    RestSubscriptionBase,
    RestSubscriptionCustomer,
    Status,
    SubscriptionCreate,
    SubscriptionUpdate,
)
from lava_server.subscriptions.schemas import RolloverType
from lava_server.timeutil import iso, iso_or_none, utcnow
from lava_server.wallets.ledger import lock_wallet

Credits = dict[str, Decimal]


def _pending(
    subscription: ActiveSubscription, pending_plan: SubscriptionConfig | None
) -> PendingChange | None:
    if subscription.pending_change is None:
        return None
    body: PendingChange = {
        "type": "downgrade" if subscription.pending_change == "downgrade" else "cancellation",
        "effective_at": iso_or_none(subscription.pending_at),
    }
    if pending_plan is not None:
        body["plan_id"] = pending_plan.id
        body["name"] = pending_plan.name
        body["period_amount"] = format_money(pending_plan.period_amount)
        body["included_credit"] = format_money(pending_plan.included_credit)
    return body


def render(
    subscription: ActiveSubscription,
    config: SubscriptionConfig,
    credits: Credits,
    pending_plan: SubscriptionConfig | None,
) -> RestSubscriptionBase:
    cycle, bundle = credits["cycle"], credits["bundle"]
    return {
        "subscription_id": subscription.id,
        "plan_id": config.id,
        "status": cast(Status, subscription.status),
        "auto_top_up_bundle_id": subscription.auto_top_up_bundle_id,
        "started_at": iso(subscription.started_at),
        "cancelled_at": iso_or_none(subscription.cancelled_at),
        "cycle_start_at": iso(subscription.current_period_start),
        "cycle_end_at": iso(subscription.current_period_end),
        "plan": {
            "name": config.name,
            "period_amount": format_money(config.period_amount),
            "included_credit": format_money(config.included_credit),
            "billing_interval": cast(BillingInterval, config.billing_interval),
            "rollover_type": cast(RolloverType, config.rollover_type),
            "bundle_rollover_type": cast(RolloverType, config.bundle_rollover_type),
        },
        "credits": {
            "total_remaining": format_money(cycle + bundle),
            "cycle_remaining": format_money(cycle),
            "bundle_remaining": format_money(bundle),
        },
        "pending_change": _pending(subscription, pending_plan),
    }


async def _render_many(
    session: AsyncSession, rows: Sequence[tuple[ActiveSubscription, SubscriptionConfig]]
) -> list[RestSubscriptionBase]:
    credits = await repository.credit_left(session, [row[0].id for row in rows], utcnow())
    bodies = []
    for subscription, config in rows:
        pending_plan = None
        if subscription.pending_plan_id is not None:
            pending_plan = await repository.config_by_id(session, subscription.pending_plan_id)
        bodies.append(render(subscription, config, credits[subscription.id], pending_plan))
    return bodies


async def running_of(session: AsyncSession, connection_id: str) -> RestSubscriptionBase | None:
    """The connection's running subscription in the current API's shape, or None."""
    found = (await repository.live_for_connections(session, [connection_id])).get(connection_id)
    if found is None:
        return None
    return (await _render_many(session, [found]))[0]


def _customer(wallet: Wallet, connection: Connection | None) -> RestSubscriptionCustomer:
    def pick(on_connection: str | None, on_wallet: str | None) -> str | None:
        return on_connection if on_connection else on_wallet

    phone = pick(connection.phone if connection else None, wallet.phone)
    body: RestSubscriptionCustomer = {"phone": phone or ""}
    email = pick(connection.email if connection else None, wallet.email)
    first = pick(connection.first_name if connection else None, wallet.first_name)
    last = pick(connection.last_name if connection else None, wallet.last_name)
    if email:
        body["email"] = email
    if first:
        body["first_name"] = first
    if last:
        body["last_name"] = last
    return body


async def list_page(
    db: Database,
    caller: Caller,
    *,
    status: str,
    customer_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[RestSubscription], bool]:
    connection_id = None
    if customer_id is not None:
        connection, _ = await connections.retrieve(db, caller, customer_id, param="customer_id")
        connection_id = connection.id
    async with db.read() as session:
        rows = await repository.page_subscriptions(
            session,
            caller.merchant_id,
            caller.livemode,
            status=None if status == "all" else status,
            connection_id=connection_id,
            cursor=cursor,
            limit=limit,
        )
        shown = rows[:limit]
        bases = await _render_many(session, [(row[0], row[1]) for row in shown])
    answers: list[RestSubscription] = []
    for base, (subscription, _, wallet, contact) in zip(bases, shown, strict=True):
        body = cast(RestSubscription, dict(base))
        body["customer_id"] = subscription.connection_id
        body["customer"] = _customer(wallet, contact)
        answers.append(body)
    return answers, len(rows) > limit


async def create(
    db: Database, caller: Caller, params: SubscriptionCreate, now: datetime
) -> RestSubscriptionBase:
    """Put a customer on a free plan (paid plans go through checkout). A free subscription the
    customer runs is replaced; a paid one is a 409."""
    await plans.ensure_free_plan(db, caller, now)
    connection, wallet = await connections.retrieve(
        db, caller, params.customer_id, param="customer_id"
    )
    async with db.write() as session:
        config = await repository.get_config(
            session, caller.merchant_id, caller.livemode, params.plan_id
        )
        if config is None:
            raise NotFound(f"No plan {params.plan_id}.", param="plan_id")
        if config.period_amount != 0:
            raise InvalidRequest(
                "plan_id: only free plans can be assigned through the API; a paid plan needs "
                "a checkout session (checkout_mode subscription).",
                param="plan_id",
            )
        await lock_wallet(session, wallet.id)
        running = await repository.active_for_wallet(session, wallet.id)
        if running is not None:
            running = await repository.lock_subscription(session, running.id)
            current = await repository.config_by_id(session, running.subscription_config_id)
            assert current is not None
            if running.merchant_id != caller.merchant_id or current.period_amount != 0:
                raise Conflict(
                    "customer_id: the customer already runs a paid subscription; cancel it or "
                    "change it through checkout.",
                    param="customer_id",
                )
            await service.end(session, running, service.REPLACED, now)
            await session.flush()
        subscription = await service.start(
            session,
            merchant_id=caller.merchant_id,
            livemode=caller.livemode,
            wallet_id=wallet.id,
            connection_id=connection.id,
            config=config,
            method=None,
            payment=None,
            now=now,
        )
        return (await _render_many(session, [(subscription, config)]))[0]


async def _get(session: AsyncSession, caller: Caller, subscription_id: str) -> ActiveSubscription:
    found = await repository.get_subscription(
        session, caller.merchant_id, caller.livemode, subscription_id
    )
    if found is None:
        raise NotFound(f"No subscription {subscription_id}.", param="subscription_id")
    return found


async def update(
    db: Database, caller: Caller, subscription_id: str, params: SubscriptionUpdate
) -> None:
    async with db.write() as session:
        subscription = await _get(session, caller, subscription_id)
        if "auto_top_up_bundle_id" not in params.model_fields_set:
            return
        bundle_id = params.auto_top_up_bundle_id
        if bundle_id is not None:
            bundle = await repository.get_bundle(
                session, caller.merchant_id, caller.livemode, bundle_id
            )
            if bundle is None or bundle.plan_id != subscription.subscription_config_id:
                raise InvalidRequest(
                    f"auto_top_up_bundle_id: no credit bundle {bundle_id} on the "
                    "subscription's plan.",
                    param="auto_top_up_bundle_id",
                )
        subscription.auto_top_up_bundle_id = bundle_id


async def cancel(db: Database, caller: Caller, subscription_id: str, now: datetime) -> None:
    async with db.read() as session:
        await _get(session, caller, subscription_id)
    await service.cancel(db, caller, subscription_id, now)
