from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from lava_server import outbox
from lava_server.api.auth import Caller
from lava_server.connections import repository
from lava_server.connections.schemas import RestConnection, TestConnectionCreate, TestFund
from lava_server.db.engine import Database
from lava_server.db.models import Connection, Wallet
from lava_server.errors import Forbidden, NotFound
from lava_server.ids import new_id, new_secret
from lava_server.periods import usage_period
from lava_server.pricing import format_money
from lava_server.timeutil import iso, utcnow
from lava_server.wallets import repository as wallets
from lava_server.wallets.ledger import lock_wallet
from lava_server.wallets.service import fund_in_session


def render(connection: Connection, wallet: Wallet, now: datetime | None = None) -> RestConnection:
    """The seed's `RestConnection`; the usage period follows the wallet's subscription cycle."""
    previous_reset, next_reset = usage_period(
        now or utcnow(), wallet.cycle_started_at, wallet.cycle_ends_at
    )
    body: RestConnection = {
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
    if wallet.autopay_threshold is not None and wallet.autopay_amount is not None:
        body["wallet"]["autopay_threshold"] = format_money(wallet.autopay_threshold)
        body["wallet"]["autopay_amount"] = format_money(wallet.autopay_amount)
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
        await outbox.record(
            session,
            outbox.CUSTOMER_DELETED,
            object_id=connection_id,
            merchant_id=caller.merchant_id,
            livemode=caller.livemode,
        )


async def create_test_connection(
    db: Database, caller: Caller, params: TestConnectionCreate
) -> tuple[Connection, Wallet]:
    """A funded sandbox connection (a known phone reuses its wallet, as checkout does)."""
    if caller.livemode:
        raise Forbidden("Test helpers are for sandbox (aks_test_) keys only.")
    now = utcnow()
    async with db.write() as session:
        wallet = None
        if params.phone is not None:
            wallet = await repository.wallet_by_phone(session, params.phone, livemode=False)
        if wallet is None:
            wallet = Wallet(
                id=new_id("wal", False),
                livemode=False,
                phone=params.phone,
                email=params.email,
                first_name=params.first_name,
                last_name=params.last_name,
                balance=Decimal(0),
                held=Decimal(0),
                autopay_enabled=False,
                created_at=now,
            )
            await wallets.add_wallet(session, wallet)
        connection = Connection(
            id=new_id("con", False),
            merchant_id=caller.merchant_id,
            livemode=False,
            wallet_id=wallet.id,
            reference_id=params.reference_id,
            secret=new_secret("cons", False),
            created_at=now,
        )
        await repository.add(session, connection)
        await outbox.record(
            session,
            outbox.CUSTOMER_CREATED,
            object_id=connection.id,
            merchant_id=caller.merchant_id,
            livemode=False,
            now=now,
        )
        if params.balance > 0:
            await lock_wallet(session, wallet.id)
            await fund_in_session(
                session,
                wallet.id,
                params.balance,
                livemode=False,
                source="test_helper",
                field="balance",
            )
        await wallets.reload_wallet(session, wallet)
    return connection, wallet


async def fund_test_connection(
    db: Database, caller: Caller, connection_id: str, params: TestFund
) -> tuple[Connection, Wallet]:
    if caller.livemode:
        raise Forbidden("Test helpers are for sandbox (aks_test_) keys only.")
    async with db.write() as session:
        found = await repository.get_with_wallet(session, caller.merchant_id, False, connection_id)
        if found is None:
            raise NotFound(f"No connection {connection_id}.", param="connection_id")
        connection, wallet = found
        await lock_wallet(session, wallet.id)
        await fund_in_session(
            session, wallet.id, params.amount, livemode=False, source="test_helper"
        )
        await wallets.reload_wallet(session, wallet)
    return connection, wallet
