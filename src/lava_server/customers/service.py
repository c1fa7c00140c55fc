"""Customers are connections (`docs/current-api.md#customers`): the rules live in
`connections.service`; here they are rendered in the current API's shapes, with the
subscription each one runs."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal, cast

from lava_server.api.auth import Caller
from lava_server.connections import service as connections
from lava_server.customers.schemas import (
    CustomerSubscription,
    CustomerSubscriptionAnswer,
    RestCustomer,
    Status,
)
from lava_server.db.engine import Database
from lava_server.db.models import ActiveSubscription, Connection, SubscriptionConfig, Wallet
from lava_server.pricing import format_money
from lava_server.subscriptions import repository as subscriptions
from lava_server.timeutil import iso, iso_or_none

Running = dict[str, tuple[ActiveSubscription, SubscriptionConfig]]


def _brief(
    found: tuple[ActiveSubscription, SubscriptionConfig] | None,
) -> CustomerSubscription | None:
    if found is None:
        return None
    subscription, config = found
    return {
        "subscription_id": subscription.id,
        "plan_id": config.id,
        "name": config.name,
        "status": cast(Status, subscription.status),
    }


def render(connection: Connection, running: Running) -> RestCustomer:
    return {
        "customer_id": connection.id,
        "reference_id": connection.reference_id,
        "contact": {
            "phone": connection.phone or "",
            "email": connection.email or "",
            "first_name": connection.first_name or "",
            "last_name": connection.last_name or "",
        },
        "subscription": _brief(running.get(connection.id)),
        "metadata": connection.metadata_,
        "created_at": iso(connection.created_at),
        "connection_secret": connection.secret,
    }


async def running_for(db: Database, connections_: Sequence[Connection]) -> Running:
    async with db.read() as session:
        return await subscriptions.live_for_connections(
            session, [connection.id for connection in connections_]
        )


async def render_one(db: Database, found: tuple[Connection, Wallet]) -> RestCustomer:
    return render(found[0], await running_for(db, [found[0]]))


async def subscription_of(
    db: Database, caller: Caller, customer_id: str
) -> CustomerSubscriptionAnswer:
    """The running subscription in the current API's shape. Seed-era plans are monthly, grant
    their whole `period_amount` as credit and have no bundles; a cancelled subscription stops
    at once (so none is ever pending)."""
    connection, _ = await connections.retrieve(db, caller, customer_id, param="customer_id")
    async with db.read() as session:
        running = await subscriptions.live_for_connections(session, [connection.id])
        found = running.get(connection.id)
        if found is None:
            return {"subscription": None}
        subscription, config = found
        cycle = await subscriptions.period_credit_left(session, subscription.id)
    rollover = cast(Literal["full", "none"], config.rollover_type)
    return {
        "subscription": {
            "subscription_id": subscription.id,
            "plan_id": config.id,
            "status": cast(Status, subscription.status),
            "auto_top_up_bundle_id": None,
            "started_at": iso(subscription.started_at),
            "cancelled_at": iso_or_none(subscription.cancelled_at),
            "cycle_start_at": iso(subscription.current_period_start),
            "cycle_end_at": iso(subscription.current_period_end),
            "plan": {
                "name": config.name,
                "period_amount": format_money(config.period_amount),
                "included_credit": format_money(config.period_amount),
                "billing_interval": "month",
                "rollover_type": rollover,
                "bundle_rollover_type": "full",
            },
            "credits": {
                "total_remaining": format_money(cycle),
                "cycle_remaining": format_money(cycle),
                "bundle_remaining": format_money(Decimal(0)),
            },
            "pending_change": None,
        }
    }
