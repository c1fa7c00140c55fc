"""Customers are connections (`docs/current-api.md#customers`): the rules live in
`connections.service`; here they are rendered in the current API's shapes, with the
subscription each one runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

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
from lava_server.subscriptions import current
from lava_server.subscriptions import repository as subscriptions
from lava_server.timeutil import iso

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
    """The running subscription in the current API's shape (`subscriptions.current`), with its
    credit by kind and the change pending at the end of its cycle."""
    connection, _ = await connections.retrieve(db, caller, customer_id, param="customer_id")
    async with db.read() as session:
        return {"subscription": await current.running_of(session, connection.id)}
