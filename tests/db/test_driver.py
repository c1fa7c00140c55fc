"""`db.driver.DriverSession`: the charge's Core statements run on `sqlite3` / asyncpg themselves.

What it reads and writes must be what the engine reads and writes, value for value and type for
type, over the whole range of money; driver errors are SQLAlchemy's `DBAPIError` and roll the
transaction back; an ORM statement is refused (and a settlement then falls back to a session);
and settlements in a steady state compile nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from lava_server.db.driver import DriverSession, NeedsSession
from lava_server.db.models import Connection, CreditGrant, LedgerEntry, Request, Wallet
from lava_server.metering import repository
from lava_server.metering.repository import WriterConnection
from lava_server.pricing import MAX_AMOUNT
from lava_server.timeutil import utcnow
from lava_server.wallets import repository as wallets_repository
from lava_server.wallets.ledger import Movement, Posting, post_movements
from tests.metering.helpers import (
    balance_of,
    forward_billing,
    make_connection,
    make_product,
    report,
)

UNIT = Decimal("0.0000000001")


def writer(db) -> WriterConnection:
    return WriterConnection(db, durable=True, autocommit=not db.is_sqlite)


async def post_lean(db, movements: list[Movement], now: datetime) -> None:
    """Ledger movements written in one transaction of a lean writer."""
    lean = writer(db)
    try:
        async with lean.driver_transaction() as session:
            await post_movements(session, movements, now)
    finally:
        await lean.close()


async def wallet_of(db, connection_id: str) -> str:
    async with db.read() as session:
        found = await session.scalar(
            select(Connection.wallet_id).where(Connection.id == connection_id)
        )
    assert found is not None
    return str(found)


async def test_reads_are_the_engines_value_for_value(client, db, merchant):
    connection = await make_connection(client, merchant.headers, balance="123.4567890123")
    wallet_id = await wallet_of(db, connection["connection_id"])
    async with db.read() as session:
        expected = await wallets_repository.debit_states(session, [wallet_id])
    lean = writer(db)
    try:
        async with lean.driver_transaction() as session:
            assert isinstance(session, DriverSession)
            one = await wallets_repository.debit_states(session, [wallet_id], lock=True)
            many = await wallets_repository.debit_states(session, [wallet_id, "w_missing"])
    finally:
        await lean.close()
    assert len(expected) == len(one) == len(many) == 1
    for row in (one[0], many[0]):
        assert tuple(row) == tuple(expected[0])
        assert [type(value) for value in row] == [type(value) for value in expected[0]]
        assert row.balance == Decimal("123.4567890123") and row.id == wallet_id
    assert one[0].cycle_started_at is None or one[0].cycle_started_at.tzinfo is not None


async def test_money_at_both_ends_of_the_range_is_written_exactly(client, db, merchant):
    connection = await make_connection(client, merchant.headers, balance="0")
    wallet_id = await wallet_of(db, connection["connection_id"])
    now = utcnow()
    amounts = [MAX_AMOUNT, UNIT]
    movements = [
        Movement(
            f"driver-test:{n}",
            [
                Posting(f"merchant:{merchant.merchant_id}", -amount, "adjustment"),
                Posting(f"wallet:{wallet_id}", amount, "adjustment", wallet_id),
            ],
            False,
        )
        for n, amount in enumerate(amounts)
    ]
    await post_lean(db, movements, now)
    async with db.read() as session:
        entries = (
            await session.execute(
                select(LedgerEntry.txn_id, LedgerEntry.amount, LedgerEntry.created_at)
                .where(LedgerEntry.txn_id.like("driver-test:%"))
                .order_by(LedgerEntry.txn_id, LedgerEntry.amount)
            )
        ).all()
        balance = await session.scalar(select(Wallet.balance).where(Wallet.id == wallet_id))
    assert [(t, a) for t, a, _ in entries] == [
        ("driver-test:0", -MAX_AMOUNT),
        ("driver-test:0", MAX_AMOUNT),
        ("driver-test:1", -UNIT),
        ("driver-test:1", UNIT),
    ]
    assert {c for _, _, c in entries} == {now}  # the timestamp, zone and microseconds kept
    assert balance == MAX_AMOUNT + UNIT
    # Take it back out, so that the wallet is within what the API accepts again.
    back = [
        Movement(
            "driver-test:back",
            [
                Posting(f"wallet:{wallet_id}", -(MAX_AMOUNT + UNIT), "adjustment", wallet_id),
                Posting(f"merchant:{merchant.merchant_id}", MAX_AMOUNT + UNIT, "adjustment"),
            ],
            False,
        )
    ]
    await post_lean(db, back, now)
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == 0


async def test_a_driver_error_is_a_dbapi_error_and_rolls_everything_back(client, db, merchant):
    connection = await make_connection(client, merchant.headers, balance="5")
    wallet_id = await wallet_of(db, connection["connection_id"])
    lean = writer(db)
    try:
        with pytest.raises(DBAPIError) as raised:
            async with lean.driver_transaction() as session:
                await repository.change_held(session, wallet_id, Decimal(3))
                # A ledger entry without its account: NOT NULL refuses it.
                await wallets_repository.insert_ledger_entries(
                    session,
                    [
                        {
                            "txn_id": "driver-test:bad",
                            "account": None,
                            "wallet_id": wallet_id,
                            "amount": Decimal(1),
                            "kind": "adjustment",
                            "livemode": False,
                            "request_seq": None,
                            "created_at": utcnow(),
                        }
                    ],
                )
        # The statement's parameters stay out of the message, as the engine's (`hide_parameters`).
        assert "[parameters:" not in str(raised.value)
        # Rolled back: the hold was not kept. The writer reconnects for the next transaction.
        async with lean.driver_transaction() as session:
            state = (await wallets_repository.debit_states(session, [wallet_id]))[0]
            assert state.held == 0
            assert not await repository.finish_request(session, 10**12, {"status": "error"})
    finally:
        await lean.close()


async def test_an_orm_statement_is_refused_and_the_connection_kept(client, db, merchant):
    connection = await make_connection(client, merchant.headers, balance="5")
    wallet_id = await wallet_of(db, connection["connection_id"])
    lean = writer(db)
    try:
        with pytest.raises(NeedsSession):
            async with lean.driver_transaction() as session:
                await repository.change_held(session, wallet_id, Decimal(2))
                await session.execute(select(CreditGrant))
        kept = lean._sqlite if db.is_sqlite else lean._connection
        assert kept is not None  # a refusal is no reason to reconnect
        with pytest.raises(NeedsSession):
            async with lean.driver_transaction() as session:
                session.add(CreditGrant())  # what only an ORM session has
        async with lean.driver_transaction() as session:
            state = (await wallets_repository.debit_states(session, [wallet_id]))[0]
            assert state.held == 0  # rolled back
        assert (lean._sqlite if db.is_sqlite else lean._connection) is kept
    finally:
        await lean.close()


async def test_settlements_in_a_steady_state_compile_nothing(client, db, settings, merchant):
    billing, connection, _, call, _, _ = await forward_billing(
        client, db, settings, merchant, "100"
    )
    try:
        spent = await call(0)
        before = DriverSession.compiled_count
        for n in range(1, 6):
            spent += await call(n)
        assert DriverSession.compiled_count == before
    finally:
        await billing.aclose()
    # 3,000,000 tokens at $2 per 1M, plus the service charge; every call charged once.
    assert spent > Decimal(6)
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == 100 - spent
    async with db.read() as session:
        rows = await session.scalar(
            select(func.count()).select_from(Request).where(Request.status == "completed")
        )
    assert rows == 6


async def test_credit_falling_due_settles_with_a_session(client, db, settings, merchant):
    """The driver's session refuses the expiry of period credit (ORM objects): the settlement
    is rolled back and made with a session, once."""
    billing, connection, product, _, hold, settle = await forward_billing(
        client, db, settings, merchant, "50"
    )
    try:
        expires = datetime.now(timezone.utc) + timedelta(seconds=1.5)
        response = await client.post(
            f"/v1/connections/{connection['connection_id']}/credits",
            json={"amount": "5", "reason": "goodwill", "expires_at": expires.isoformat()},
            headers=merchant.headers,
        )
        assert response.status_code == 201, response.text
        assert await balance_of(client, merchant.headers, connection["connection_id"]) == 55
        # The hold is taken while the credit is live; the credit falls due before the bill.
        reservation = await hold(1)
        await asyncio.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds()) + 0.2)
        spent = await settle(reservation)
    finally:
        await billing.aclose()
    balance = await balance_of(client, merchant.headers, connection["connection_id"])
    assert balance == 50 - spent  # the unspent credit expired, the call charged once
    async with db.read() as session:
        expired = await session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.txn_id.like("credit_expiry:%"))
        )
    assert expired == 2
    after = await report(client, merchant.headers, connection, product, "after", input_tokens=1)
    assert after.status_code == 201


async def test_reports_written_together_each_get_their_own_row(client, db, merchant):
    """Reports of one batch are inserted by one multi-row INSERT on the driver's connection;
    each answer names its own stored request (its `seq` matched by its key), and the ledger
    entries of each point at that row."""
    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers, balance="100")
    before = DriverSession.compiled_count
    responses = await asyncio.gather(
        *(
            report(
                client, merchant.headers, connection, product, f"r{n}", input_tokens=1000 * (n + 1)
            )
            for n in range(24)
        )
    )
    assert all(response.status_code == 201 for response in responses), responses
    assert DriverSession.compiled_count > before  # the lean writer wrote them
    for n, response in enumerate(responses):
        body = response.json()
        assert body["request_id"] == f"r{n}"
        stored = await client.get(f"/v1/requests/r{n}", headers=merchant.headers)
        assert stored.status_code == 200
        assert stored.json() == body
    async with db.read() as session:
        pairs = (
            await session.execute(
                select(Request.request_id, func.sum(LedgerEntry.amount))
                .join(LedgerEntry, LedgerEntry.request_seq == Request.seq)
                .where(LedgerEntry.wallet_id.is_not(None))
                .group_by(Request.request_id)
            )
        ).all()
        costs = dict(
            (await session.execute(select(Request.request_id, Request.total_wallet_cost))).all()
        )
    assert len(pairs) == 24
    for request_id, wallet_total in pairs:
        assert wallet_total == -costs[request_id]  # each row's own debit
