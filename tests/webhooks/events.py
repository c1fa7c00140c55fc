"""What the tests read of the webhooks' events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from lava_server.db.engine import Database
from lava_server.db.models import WebhookEvent, WebhookOutbox


async def events_about(db: Database, event_type: str, object_id: str) -> list[dict[str, Any]]:
    """The `data` of the events of `event_type` about `object_id`, made already or still in
    the outbox (the poller may have turned them into events or not yet)."""
    found = []
    async with db.read() as session:
        for table in (WebhookOutbox, WebhookEvent):
            rows = await session.execute(
                select(table.data).where(table.type == event_type, table.object_id == object_id)
            )
            found += [dict(data) for (data,) in rows]
    return found
