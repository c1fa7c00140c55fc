"""Benchmark: the report batch's lookups by key against a large table, with the statement they
used before as the baseline, in the same run.

For each database it stores `--stored` requests of one merchant (written directly, as rows) and
one tier position for each of `--connections` connections, then times, `--rounds` times each, the two lookups a batch
of `POST /v1/requests` makes under the write lock, for a batch of 32 keys:

- which request ids are stored already (`metering.repository.stored_keys`), and
- the tier positions of the batch's connections (`tier_units_many`),

first with the row-value `IN ((merchant, mode, id), ...)` they were written with before (the
baseline: SQLite scans every stored request for it), then with today's statements (per merchant
and mode, `request_id IN (...)`: a lookup in the unique index per key). It prints p50 of each
and the ratio.

    .venv/bin/python bench/lookups.py
    .venv/bin/python bench/lookups.py --databases sqlite --stored 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import httpx
from _common import database, lava
from sqlalchemy import insert, select, text, tuple_

from lava_server.app import create_app
from lava_server.db.engine import Database
from lava_server.db.models import Request, TierUsage, table_of
from lava_server.metering import repository
from lava_server.settings import Settings

START = datetime(2026, 12, 1, tzinfo=timezone.utc)


def request_row(merchant_id: str, n: int) -> dict[str, Any]:
    zero = Decimal(0)
    return {
        "request_id": f"r-{n}",
        "merchant_id": merchant_id,
        "livemode": False,
        "status": "completed",
        "provider": "openai",
        "provider_key_type": "managed",
        "endpoint": "POST /v1/chat/completions",
        "model_payer": "wallet",
        "service_charge_payer": "wallet",
        "rate_type": "tokens_1m",
        "token_basis": "input+output",
        "fee_breakdown": {},
        "metadata": {},
        "fingerprint": "x",
        "created_at": START,
        **{name: zero for name in ("input_cost", "output_cost", "total_cost", "fee_amount")},
    }


def old_stored_keys(keys: list[tuple[str, bool, str]]) -> Any:
    t = table_of(Request)
    return select(t.c.merchant_id, t.c.livemode, t.c.request_id).where(
        tuple_(t.c.merchant_id, t.c.livemode, t.c.request_id).in_(keys)
    )


def old_tier_units(keys: list[tuple[str, str, datetime]]) -> Any:
    t = table_of(TierUsage)
    return select(t.c.connection_id, t.c.product_id, t.c.period_start, t.c.units).where(
        tuple_(t.c.connection_id, t.c.product_id, t.c.period_start).in_(keys)
    )


async def fill(url: str, db: Database, args: argparse.Namespace) -> tuple[str, str, list[str]]:
    """A merchant with `--stored` requests, a product and `--connections` connections with a
    tier position each; (merchant id, product id, connection ids)."""
    merchant = json.loads(lava("merchants", "create", "Bench", "--json", "--database-url", url))
    headers = {"Authorization": f"Bearer {merchant['secret_key']}"}
    app = create_app(Settings(database_url=url), db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://lava.test"
    ) as http:
        product = await http.post(
            "/v1/products",
            json={"name": "Chat", "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}]},
            headers=headers,
        )
        connections = [
            (await http.post("/v1/test_helpers/connections", json={}, headers=headers)).json()
            for _ in range(args.connections)
        ]
    merchant_id, product_id = merchant["merchant_id"], product.json()["product_id"]
    connection_ids = [connection["connection_id"] for connection in connections]
    chunk = 20_000
    for first in range(0, args.stored, chunk):
        rows = [request_row(merchant_id, n) for n in range(first, min(args.stored, first + chunk))]
        async with db.write() as session:
            await session.execute(insert(table_of(Request)), rows)
    positions = [
        {
            "connection_id": connection_id,
            "product_id": product_id,
            "period_start": START,
            "units": n,
        }
        for n, connection_id in enumerate(connection_ids)
    ]
    async with db.write() as session:
        await session.execute(insert(table_of(TierUsage)), positions)
        if session.get_bind().dialect.name == "postgresql":
            # The statistics autovacuum keeps on a live database (without them PostgreSQL's
            # planner takes the rows just written for a handful and reads the merchant's index).
            await session.execute(text("ANALYZE requests, tier_usage"))
    return merchant_id, product_id, connection_ids


async def timed(db: Database, statement: Any, rounds: int) -> tuple[float, int]:
    times = []
    found = 0
    for _ in range(rounds):
        async with db.read() as session:
            started = time.perf_counter()
            found = len((await session.execute(statement)).all())
            times.append(time.perf_counter() - started)
    return statistics.median(times), found


async def measure(url: str, args: argparse.Namespace) -> None:
    db = Database(url, pool_size=2)
    try:
        merchant_id, product_id, connection_ids = await fill(url, db, args)
        # A batch of 32 reports: 31 new request ids and one repeat, over 32 connections.
        keys = [(merchant_id, False, f"new-{n}") for n in range(31)] + [(merchant_id, False, "r-7")]
        tiers = [(connection_id, product_id, START) for connection_id in connection_ids[::7][:32]]
        dialect = db.engine.dialect.name
        for name, old, new in (
            (
                "stored request ids",
                old_stored_keys(keys),
                repository.stored_keys_query(keys, dialect),
            ),
            ("tier positions", old_tier_units(tiers), repository.tier_units_query(tiers, dialect)),
        ):
            before, found_before = await timed(db, old, args.rounds)
            after, found_after = await timed(db, new, args.rounds)
            assert found_before == found_after, (found_before, found_after)
            print(
                f"  {name:18}  row-value IN (before) {before * 1000:8.3f} ms   now "
                f"{after * 1000:7.3f} ms   before/now {before / after:6.1f}x   ({found_after} found)"
            )
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--stored", type=int, default=200_000)
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    for kind in args.databases.split(","):
        with database(kind) as url:
            lava("ledger", "check", "--database-url", url)  # creates the schema
            print(
                f"{kind}: a batch of 32 keys, {args.stored:,} stored requests, "
                f"{args.connections:,} tier positions"
            )
            asyncio.run(measure(url, args))


if __name__ == "__main__":
    main()
