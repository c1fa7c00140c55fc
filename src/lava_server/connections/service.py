from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from lava_server.api.auth import Caller
from lava_server.connections import repository
from lava_server.db.engine import Database
from lava_server.db.models import Connection, Wallet
from lava_server.errors import NotFound
from lava_server.money import format_money
from lava_server.timeutil import iso, utcnow


def calendar_period(now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar month holding `now`: (start, next start)."""
    start = datetime(now.year, now.month, 1, tzinfo=timezone.utc)
    if now.month == 12:
        end = datetime(now.year + 1, 1, 1, tzinfo=timezone.utc)
    else:
        end = datetime(now.year, now.month + 1, 1, tzinfo=timezone.utc)
    return start, end


def render(connection: Connection, wallet: Wallet, now: datetime | None = None) -> dict[str, Any]:
    previous_reset, next_reset = calendar_period(now or utcnow())
    body: dict[str, Any] = {
        "connection_id": connection.id,
        "connection_secret": connection.secret,
        "wallet": {
            "balance": format_money(wallet.balance - wallet.held),
            "phone": wallet.phone or "",
            "email": wallet.email or "",
            "first_name": wallet.first_name or "",
            "last_name": wallet.last_name or "",
            "autopay_enabled": wallet.autopay_enabled,
        },
        "next_usage_reset": iso(next_reset),
        "previous_usage_reset": iso(previous_reset),
        "created_at": iso(connection.created_at),
    }
    if connection.reference_id is not None:
        body["reference_id"] = connection.reference_id
    return body


async def retrieve(db: Database, caller: Caller, connection_id: str) -> tuple[Connection, Wallet]:
    async with db.read() as session:
        found = await repository.get_with_wallet(
            session, caller.merchant_id, caller.livemode, connection_id
        )
    if found is None:
        raise NotFound(f"No connection {connection_id}.", param="connection_id")
    return found


async def list_page(
    db: Database, caller: Caller, cursor: str | None, limit: int, reference_id: str | None
) -> Sequence[tuple[Connection, Wallet]]:
    async with db.read() as session:
        return await repository.page_with_wallets(
            session, caller.merchant_id, caller.livemode, cursor, limit, reference_id
        )


async def delete(db: Database, caller: Caller, connection_id: str) -> None:
    """Revoke the connection and its secret at once; the wallet and its history stay."""
    async with db.write() as session:
        found = await repository.get_with_wallet(
            session, caller.merchant_id, caller.livemode, connection_id
        )
        if found is None:
            raise NotFound(f"No connection {connection_id}.", param="connection_id")
        found[0].deleted_at = utcnow()
