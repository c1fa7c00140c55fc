"""The charge's batch lookups by key (`metering.repository.stored_keys`, `tier_units_many`): the
right rows across merchants, modes, products and connections, found through the indexes."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import httpx
from sqlalchemy import select

from lava_server.db.engine import Database
from lava_server.db.models import TierUsage
from lava_server.merchants import service as merchants
from lava_server.metering import repository
from tests.conftest import MerchantKey
from tests.db.plans import sqlite_plan
from tests.metering.helpers import make_connection, make_product, report


async def test_stored_keys_are_found_per_merchant_and_mode(
    client: httpx.AsyncClient, db: Database, merchant: MerchantKey
) -> None:
    other_key = await merchants.create_merchant(db, "Other", livemode=False)
    other = MerchantKey(other_key.merchant_id, other_key.secret_key)
    for who, request_ids in ((merchant, ["r-1", "r-2"]), (other, ["r-1"])):
        product = await make_product(client, who.headers)
        connection = await make_connection(client, who.headers)
        for request_id in request_ids:
            answer = await report(client, who.headers, connection, product, request_id)
            assert answer.status_code == 201, answer.text
    mine, theirs = merchant.merchant_id, other.merchant_id
    asked = [
        (mine, False, "r-1"),
        (mine, False, "r-3"),  # not stored
        (mine, True, "r-1"),  # stored in sandbox, not live
        (theirs, False, "r-1"),
        (theirs, False, "r-2"),  # the other merchant's
    ]
    async with db.read() as session:
        assert await repository.stored_keys(session, asked) == {
            (mine, False, "r-1"),
            (theirs, False, "r-1"),
        }
        assert await repository.stored_keys(session, []) == set()


async def test_tier_positions_are_found_per_product_and_period(
    client: httpx.AsyncClient, db: Database, merchant: MerchantKey
) -> None:
    products = [await make_product(client, merchant.headers) for _ in range(2)]
    connections = [await make_connection(client, merchant.headers) for _ in range(3)]
    n = 0
    for product in products:
        for connection in connections[: 2 if product is products[0] else 1]:
            n += 1
            answer = await report(
                client, merchant.headers, connection, product, f"r-{n}", input_tokens=10 * n
            )
            assert answer.status_code == 201, answer.text
    async with db.read() as session:
        stored = {
            (row.connection_id, row.product_id, row.period_start): int(row.units)
            for row in (await session.execute(select(TierUsage))).scalars()
        }
        assert len(stored) == 3
        start = next(iter(stored))[2]
        missing = [
            (connections[2]["connection_id"], products[0]["product_id"], start),
            (
                connections[0]["connection_id"],
                products[0]["product_id"],
                datetime(2001, 1, 1, tzinfo=timezone.utc),
            ),
        ]
        found = await repository.tier_units_many(session, [*stored, *missing])
        assert found == stored


def test_sqlite_answers_both_lookups_from_the_indexes(sqlite_template: Path) -> None:
    """Two merchants' keys, two products' positions: SQLite searches the unique indexes and
    scans no table (a row-value IN made it scan every stored request, under the write lock)."""
    keys = [("mer_a", False, "r-1"), ("mer_a", False, "r-2"), ("mer_b", True, "r-1")]
    plan = sqlite_plan(repository.stored_keys_query(keys, "sqlite"), sqlite_template)
    assert "SEARCH requests USING COVERING INDEX" in plan, plan
    assert "SCAN" not in plan, plan
    start = datetime(2026, 12, 1, tzinfo=timezone.utc)
    positions = [("con_a", "prd_a", start), ("con_b", "prd_a", start), ("con_a", "prd_b", start)]
    plan = sqlite_plan(repository.tier_units_query(positions, "sqlite"), sqlite_template)
    assert "SEARCH tier_usage USING" in plan, plan
    assert "SCAN" not in plan, plan


async def test_a_longer_request_id_does_not_match_a_stored_one_by_its_start(
    client: httpx.AsyncClient, db: Database, merchant: MerchantKey
) -> None:
    """A lookup compares whole values: one past the column's 255 characters whose first 255 are
    a stored request id is not that id (a cast of the array to VARCHAR(255)[] on PostgreSQL
    would cut it and find it)."""
    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers)
    longest = "r" * 255
    answer = await report(client, merchant.headers, connection, product, longest)
    assert answer.status_code == 201, answer.text
    mine = merchant.merchant_id
    async with db.read() as session:
        assert await repository.stored_keys(session, [(mine, False, longest + "x")]) == set()
        assert await repository.stored_keys(
            session, [(mine, False, longest), (mine, False, longest + "x")]
        ) == {(mine, False, longest)}
