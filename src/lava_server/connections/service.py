from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server import outbox
from lava_server.api.auth import Caller
from lava_server.connections import repository
from lava_server.connections.schemas import (
    CustomerCreate,
    CustomerUpdate,
    RestConnection,
    TestConnectionCreate,
    TestFund,
)
from lava_server.db.engine import Database
from lava_server.db.models import Connection, Wallet
from lava_server.errors import Conflict, Forbidden, NotFound
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


def contact_of(wallet: Wallet) -> dict[str, str | None]:
    """The wallet's details, which a connection made through checkout starts with."""
    return {
        "phone": wallet.phone,
        "email": wallet.email,
        "first_name": wallet.first_name,
        "last_name": wallet.last_name,
    }


def split_name(name: str | None) -> tuple[str | None, str | None]:
    """`name` of the current API: first name up to the first space, the rest last name."""
    if name is None:
        return None, None
    first, _, last = name.strip().partition(" ")
    return first or None, last.strip() or None


def is_reference(customer_id: str) -> bool:
    """The one rule of naming a customer (`docs/current-api.md#customers`): wherever a customer
    id goes, the merchant's `reference_id` may stand for it, and a reference never starts `con_`.
    True when `customer_id` is a reference, not an id."""
    return not customer_id.startswith("con_")


async def connection_id_of(db: Database, caller: Caller, customer_id: str) -> str:
    """The id of the connection that `customer_id` (an id or a reference) names, for a filter:
    an unknown reference is answered as it is, which no connection id ever matches."""
    if not is_reference(customer_id):
        return customer_id
    async with db.read() as session:
        found = await repository.by_reference(
            session, caller.merchant_id, caller.livemode, customer_id
        )
    return customer_id if found is None else found[0].id


async def find(
    session: AsyncSession, caller: Caller, connection_id: str, param: str
) -> tuple[Connection, Wallet]:
    """By id, or (current API) by the merchant's `reference_id` (`is_reference`)."""
    if not is_reference(connection_id):
        found = await repository.get_with_wallet(
            session, caller.merchant_id, caller.livemode, connection_id
        )
    else:
        found = await repository.by_reference(
            session, caller.merchant_id, caller.livemode, connection_id
        )
    if found is None:
        raise NotFound(f"No {param.removesuffix('_id')} {connection_id}.", param=param)
    return found


async def retrieve(
    db: Database, caller: Caller, connection_id: str, *, param: str = "connection_id"
) -> tuple[Connection, Wallet]:
    async with db.read() as session:
        return await find(session, caller, connection_id, param)


async def create_customer(
    db: Database, caller: Caller, params: CustomerCreate
) -> tuple[Connection, Wallet]:
    """A connection with a wallet of its own, empty. Idempotent on `reference_id`: a live
    connection with it is answered as it is."""
    now = utcnow()
    first_name, last_name = split_name(params.name)
    async with db.write() as session:
        if params.reference_id is not None:
            await repository.lock_merchant(session, caller.merchant_id)
            found = await repository.by_reference(
                session, caller.merchant_id, caller.livemode, params.reference_id
            )
            if found is not None:
                return found
        # The customer's details stay on the connection: a merchant's word on a phone number
        # must not join a wallet that a person opened through checkout.
        wallet = Wallet(
            id=new_id("wal", caller.livemode),
            livemode=caller.livemode,
            balance=Decimal(0),
            held=Decimal(0),
            autopay_enabled=False,
            created_at=now,
        )
        await wallets.add_wallet(session, wallet)
        connection = Connection(
            id=new_id("con", caller.livemode),
            merchant_id=caller.merchant_id,
            livemode=caller.livemode,
            wallet_id=wallet.id,
            reference_id=params.reference_id,
            secret=new_secret("cons", caller.livemode),
            created_at=now,
            phone=params.phone,
            email=params.email,
            first_name=first_name,
            last_name=last_name,
            metadata_=params.metadata,
        )
        await repository.add(session, connection)
        await outbox.record(
            session,
            outbox.CUSTOMER_CREATED,
            object_id=connection.id,
            merchant_id=caller.merchant_id,
            livemode=caller.livemode,
            now=now,
        )
        await wallets.reload_wallet(session, wallet)
    return connection, wallet


async def update_customer(
    db: Database, caller: Caller, connection_id: str, params: CustomerUpdate
) -> tuple[Connection, Wallet]:
    """Sets the fields given; `null` clears one. The wallet is left as it is."""
    given = params.model_fields_set
    async with db.write() as session:
        if "reference_id" in given and params.reference_id is not None:
            await repository.lock_merchant(session, caller.merchant_id)
        connection, wallet = await find(session, caller, connection_id, "customer_id")
        if "reference_id" in given and params.reference_id != connection.reference_id:
            if params.reference_id is not None:
                taken = await repository.by_reference(
                    session, caller.merchant_id, caller.livemode, params.reference_id
                )
                if taken is not None:
                    raise Conflict(
                        f"reference_id {params.reference_id} is another customer's.",
                        param="reference_id",
                    )
            connection.reference_id = params.reference_id
        if "name" in given:
            connection.first_name, connection.last_name = split_name(params.name)
        if "email" in given:
            connection.email = params.email
        if "phone" in given:
            connection.phone = params.phone
        if "metadata" in given:
            connection.metadata_ = params.metadata
    return connection, wallet


async def list_page(
    db: Database,
    caller: Caller,
    cursor: str | None,
    limit: int,
    reference_id: str | None,
    search: str | None = None,
) -> Sequence[tuple[Connection, Wallet]]:
    """A page, newest first; `search` (the dashboard's) keeps the connections whose reference
    id, email (any case) or phone is exactly it."""
    async with db.read() as session:
        return await repository.page_with_wallets(
            session, caller.merchant_id, caller.livemode, cursor, limit, reference_id, search
        )


@dataclass(frozen=True)
class WalletTotals:
    """The wallets of a merchant's customers of one mode, summed."""

    wallets: int
    balance: Decimal
    held: Decimal
    period_credit: Decimal


async def wallet_totals(db: Database, caller: Caller) -> WalletTotals:
    async with db.read() as session:
        row = await repository.wallet_totals(session, caller.merchant_id, caller.livemode)
    zero = Decimal(0)
    return WalletTotals(int(row[0] or 0), row[1] or zero, row[2] or zero, row[3] or zero)


async def delete(
    db: Database, caller: Caller, connection_id: str, *, param: str = "connection_id"
) -> None:
    """Revoke the connection and its secret at once; the wallet and its history stay."""
    async with db.write() as session:
        connection, _ = await find(session, caller, connection_id, param)
        connection.deleted_at = utcnow()
        await outbox.record(
            session,
            outbox.CUSTOMER_DELETED,
            object_id=connection.id,
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
            **contact_of(wallet),
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
