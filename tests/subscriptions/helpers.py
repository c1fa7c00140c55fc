"""Subscribing through the hosted page, and spending a wallet the way the metering hot path
does (`wallets.credit`'s documented sequence)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from lava_server.db.engine import Database
from lava_server.db.models import CreditGrant, Wallet
from lava_server.errors import InsufficientBalance
from lava_server.ids import new_id
from lava_server.settings import Settings
from lava_server.wallets.credit import open_wallets, record_debits
from lava_server.wallets.ledger import Posting, lock_wallet, post, wallet_account
from tests.checkout.helpers import (
    DETAILS,
    GOOD_CARD,
    Page,
    create_config,
    create_session,
    secret_of,
)


async def subscribe(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    amount: str = "20",
    rollover: str = "none",
    phone: str = DETAILS["phone"],
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A completed subscription checkout; returns the active subscription."""
    config = config or await create_config(client, headers, amount=amount, rollover=rollover)
    session = await create_session(
        client, headers, "subscription", subscription_config_id=config["subscription_config_id"]
    )
    page = Page(client, secret_of(session))
    await page.post("details", **{**DETAILS, "phone": phone})
    await page.verify()
    done = await page.post("pay", **GOOD_CARD)
    assert "You are subscribed" in done.text, done.text
    subscriptions = (await client.get("/v1/active-subscriptions", headers=headers)).json()
    return next(s for s in subscriptions if s["wallet"]["phone"] == phone.replace(" ", ""))


async def spend(
    db: Database,
    settings: Settings,
    wallet_id: str,
    amount: Decimal,
    now: datetime,
    *,
    block: bool = True,
) -> None:
    """Debit usage as the hot path does: lock, expire due credit, check, post, record."""
    async with db.write() as session:
        await lock_wallet(session, wallet_id)
        states = await open_wallets(session, [wallet_id], now)
        if block and states[wallet_id].available < amount:
            raise InsufficientBalance("not enough")
        await post(
            session,
            txn_id=new_id("usage", False),
            postings=[
                Posting(wallet_account(wallet_id), -amount, "usage", wallet_id),
                Posting("merchant:test", amount, "fee"),
            ],
            livemode=False,
            now=now,
        )
        await record_debits(session, settings, states, {wallet_id: amount}, now)


async def wallet_row(db: Database, wallet_id: str) -> Wallet:
    async with db.read() as session:
        wallet = await session.get(Wallet, wallet_id)
        assert wallet is not None
        return wallet


async def grants(db: Database, wallet_id: str) -> list[CreditGrant]:
    async with db.read() as session:
        return list(
            (
                await session.execute(
                    select(CreditGrant)
                    .where(CreditGrant.wallet_id == wallet_id)
                    .order_by(CreditGrant.id)
                )
            ).scalars()
        )
