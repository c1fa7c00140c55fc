"""A customer with a succeeded top-up, the ledger's accounts, and the wallet as the API shows it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select

from lava_server.db.engine import Database
from lava_server.db.models import Connection, LedgerEntry, Refund
from lava_server.db.sums import exact_sum
from tests.checkout.helpers import Page, balance, create_session, secret_of


async def onboarded(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    amount: str = "25",
    phone: str = "+1 415 555 0100",
) -> tuple[str, str]:
    """An onboarding checkout paid with the sandbox card: `(connection id, payment id)`."""
    session = await create_session(client, headers)
    response = await Page(client, secret_of(session)).onboard(amount=amount, phone=phone)
    assert response.status_code == 200, response.text
    connection_id = (
        await client.get(f"/v1/checkout_sessions/{session['checkout_session_id']}", headers=headers)
    ).json()["connection_id"]
    payments = (
        await client.get("/v1/payments", params={"customer_id": connection_id}, headers=headers)
    ).json()
    assert len(payments["data"]) == 1, payments
    return connection_id, payments["data"][0]["id"]


async def new_customer(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post("/v1/customers", json={"name": "Ada"}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["customer_id"])


async def account(db: Database, name: str) -> Decimal:
    """What the ledger entries of an account sum to."""
    async with db.read() as session:
        total = exact_sum(session.get_bind().dialect.name, LedgerEntry.amount)
        found = (await session.execute(select(total).where(LedgerEntry.account == name))).scalar()
    return Decimal(found or 0)


async def count_txns(db: Database, prefix: str) -> int:
    async with db.read() as session:
        query = select(func.count(func.distinct(LedgerEntry.txn_id))).where(
            LedgerEntry.txn_id.like(f"{prefix}%")
        )
        return int((await session.execute(query)).scalar_one())


async def refunds(db: Database) -> list[Refund]:
    async with db.read() as session:
        return list((await session.execute(select(Refund).order_by(Refund.id))).scalars())


async def wallet_of(db: Database, connection_id: str) -> str:
    async with db.read() as session:
        found = await session.get(Connection, connection_id)
        assert found is not None
        return found.wallet_id


async def money(client: httpx.AsyncClient, headers: dict[str, str], connection_id: str) -> Decimal:
    return await balance(client, headers, connection_id)


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body
