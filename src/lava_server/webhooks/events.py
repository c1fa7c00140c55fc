"""From outbox rows to events and deliveries (`docs/webhooks.md#delivery`).

Each due outbox row becomes one event per merchant it concerns (a wallet's change concerns every
merchant connected to the wallet), its `data` rendered now unless the row carries it, and one
delivery per enabled endpoint of that merchant and mode that subscribed to the event. All of it,
and the removal of the rows, in one transaction: a row is turned into events once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server import outbox
from lava_server.connections.service import render as render_connection
from lava_server.db.engine import Database
from lava_server.db.models import (
    Connection,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookOutbox,
)
from lava_server.ids import new_id
from lava_server.outbox import repository as outbox_rows
from lava_server.webhooks import repository
from lava_server.webhooks.repository import PENDING

BATCH = 200


def name_for(endpoint: WebhookEndpoint, event_type: str) -> str | None:
    """The name this endpoint receives the event under, or None if it did not subscribe."""
    legacy = outbox.LEGACY_NAMES.get(event_type)
    name = legacy if legacy is not None and endpoint.event_names == "legacy" else event_type
    wanted = endpoint.enabled_events
    if "*" in wanted or event_type in wanted or (legacy is not None and legacy in wanted):
        return name
    return None


async def fan_out(db: Database, now: datetime) -> int:
    """Turn the due outbox rows into events and deliveries; returns how many rows."""
    async with db.read() as session:  # no write transaction when nothing is due
        if not await outbox_rows.any_due(session, now):
            return 0
    async with db.write() as session:
        rows = await outbox_rows.claim_due(session, now, BATCH, skip_locked=not db.is_sqlite)
        if not rows:
            return 0
        events = await _events_of(session, rows, now)
        await add_events(session, events, now)
        await outbox_rows.remove(session, [row.id for row in rows])
    return len(rows)


async def add_events(session: AsyncSession, events: list[WebhookEvent], now: datetime) -> None:
    """Store the events that some endpoint subscribed to, with their deliveries."""
    merchants = {(event.merchant_id, event.livemode) for event in events}
    endpoints = await repository.enabled_endpoints(session, merchants)
    kept: list[WebhookEvent] = []
    deliveries: list[WebhookDelivery] = []
    for event in events:
        wanted = False
        for endpoint in endpoints:
            if (endpoint.merchant_id, endpoint.livemode) != (event.merchant_id, event.livemode):
                continue
            if event.type == outbox.ENDPOINT_DISABLED and event.object_id == endpoint.id:
                continue  # the disabled endpoint is told nothing: its merchant's others are
            name = name_for(endpoint, event.type)
            if name is None:
                continue
            wanted = True
            deliveries.append(
                WebhookDelivery(
                    id=new_id("whd", event.livemode),
                    endpoint_id=endpoint.id,
                    event_id=event.id,
                    event_type=name,
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        if wanted:
            kept.append(event)
    await repository.add_all(session, kept)
    await repository.add_all(session, deliveries)


async def _events_of(
    session: AsyncSession, rows: list[WebhookOutbox] | Any, now: datetime
) -> list[WebhookEvent]:
    events: list[WebhookEvent] = []
    wallet_rows = [row for row in rows if row.merchant_id is None and row.wallet_id is not None]
    connected = await repository.connections_of_wallets(
        session, {row.wallet_id for row in wallet_rows if row.wallet_id is not None}
    )
    for row in rows:
        # A coalesced row's data is the balance now: it is dated now, after the changes it covers.
        created_at = now if row.coalesce_key is not None else row.created_at
        if row.merchant_id is None:
            for connection, wallet in connected:
                if connection.wallet_id != row.wallet_id or not _connected_at(
                    connection, row.created_at
                ):
                    continue
                data: dict[str, Any] = dict(render_connection(connection, wallet, now))
                extra = dict(row.data or {})
                balance = extra.pop(outbox.BALANCE_KEY, None)
                if balance is not None:  # as it was right after the change
                    data["wallet"] = {**data["wallet"], "balance": balance}
                data.update(extra)
                events.append(_event(row, connection.merchant_id, connection.id, data, created_at))
            continue
        if row.data is not None:
            events.append(_event(row, row.merchant_id, row.object_id, row.data, created_at))
            continue
        found = await repository.connection_with_wallet(session, row.object_id)
        if found is not None:
            rendered = dict(render_connection(found[0], found[1], now))
            events.append(_event(row, row.merchant_id, row.object_id, rendered, created_at))
    return events


def _connected_at(connection: Connection, moment: datetime) -> bool:
    """Whether the connection existed when the change happened (a change of a wallet concerns
    the merchants connected to it then, even if they have disconnected since)."""
    return connection.created_at <= moment and (
        connection.deleted_at is None or connection.deleted_at > moment
    )


def _event(
    row: WebhookOutbox, merchant_id: str, object_id: str, data: dict[str, Any], at: datetime
) -> WebhookEvent:
    return WebhookEvent(
        id=new_id("evt", row.livemode),
        merchant_id=merchant_id,
        livemode=row.livemode,
        type=row.type,
        object_id=object_id,
        data=data,
        created_at=at,
    )
