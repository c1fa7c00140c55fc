"""The outbox is written with the change it reports: for any sequence of credits and debits on
two wallets, each committed or rolled back, the outbox holds exactly the rows of the committed
ones (a balance row per credit, one coalesced row per wallet for its debits, a low-balance row
per committed crossing), and they become exactly those events. Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from lava_server import outbox
from lava_server.api.auth import Caller
from lava_server.connections.schemas import TestConnectionCreate as ConnectionCreate
from lava_server.connections.service import create_test_connection
from lava_server.db.models import WebhookEvent
from lava_server.merchants import service as merchants
from lava_server.outbox import repository as outbox_rows
from lava_server.settings import Settings
from lava_server.timeutil import utcnow
from lava_server.wallets.credit import debit_changes, open_wallets, record_debits
from lava_server.wallets.ledger import Posting, lock_wallet, post, wallet_account
from lava_server.wallets.service import fund_in_session
from lava_server.webhooks import events

THRESHOLD = Decimal("1.00")


class Rollback(Exception):
    pass


operations = st.lists(
    st.tuples(
        st.sampled_from(["credit", "debit"]),
        st.integers(0, 1),  # which wallet
        st.integers(1, 300).map(lambda cents: Decimal(cents) / 100),
        st.booleans(),  # rolled back
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture(autouse=True)
def _default_outbox_settings(settings: Settings) -> Iterator[None]:
    yield
    outbox.configure(settings)


@hypothesis_settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=operations)
async def test_committed_changes_are_exactly_the_outbox(db, settings, ops):
    outbox.configure(
        Settings(
            database_url=settings.database_url,
            webhook_balance_coalesce_s=86400,
            webhook_low_balance_threshold=THRESHOLD,
        )
    )
    key = await merchants.create_merchant(db, "Outbox", livemode=False)
    caller = Caller(key.merchant_id, False, "key")
    wallets = []
    for _ in range(2):
        _connection, wallet = await create_test_connection(
            db, caller, ConnectionCreate(balance="2")
        )
        wallets.append(wallet.id)
    async with db.read() as session:
        before = {row.id for row in await outbox_rows.all_rows(session)}

    balance = {w: Decimal(2) for w in wallets}
    credits = {w: 0 for w in wallets}
    debited = {w: False for w in wallets}
    crossings = {w: 0 for w in wallets}
    for kind, index, amount, rolled_back in ops:
        wallet_id = wallets[index]
        try:
            async with db.write() as session:
                if kind == "credit":
                    await lock_wallet(session, wallet_id)
                    await fund_in_session(
                        session, wallet_id, amount, livemode=False, source="test_helper"
                    )
                else:
                    now = utcnow()
                    states = await open_wallets(session, [wallet_id], now, lock=True)
                    await post(
                        session,
                        txn_id=f"debit:{now.timestamp()}:{index}",
                        postings=[
                            Posting(wallet_account(wallet_id), -amount, "usage", wallet_id),
                            Posting(f"merchant:{key.merchant_id}", amount, "usage"),
                        ],
                        livemode=False,
                        now=now,
                    )
                    debits = {wallet_id: amount}
                    await record_debits(session, settings, states, debits, now)
                    await outbox.record_balance_changes(session, debit_changes(states, debits))
                if rolled_back:
                    raise Rollback
        except Rollback:
            continue
        if kind == "credit":
            credits[wallet_id] += 1
            balance[wallet_id] += amount
        else:
            debited[wallet_id] = True
            if balance[wallet_id] >= THRESHOLD > balance[wallet_id] - amount:
                crossings[wallet_id] += 1
            balance[wallet_id] -= amount

    async with db.read() as session:
        rows = [row for row in await outbox_rows.all_rows(session) if row.id not in before]
    for wallet_id in wallets:
        mine = [row for row in rows if row.wallet_id == wallet_id]
        plain = [r for r in mine if r.type == outbox.BALANCE_UPDATED and r.coalesce_key is None]
        coalesced = [r for r in mine if r.coalesce_key is not None]
        low = [r for r in mine if r.type == outbox.LOW_BALANCE]
        assert len(plain) == credits[wallet_id]
        assert len(coalesced) == (1 if debited[wallet_id] else 0)
        assert len(low) == crossings[wallet_id]
        assert len(mine) == len(plain) + len(coalesced) + len(low)

    # Fanned out (no endpoint: nothing kept), every row is consumed exactly once.
    far = utcnow().replace(year=utcnow().year + 1)
    while await events.fan_out(db, far):
        pass
    async with db.read() as session:
        assert await outbox_rows.all_rows(session) == []
        assert (await session.execute(select(WebhookEvent))).scalars().all() == []
