"""Benchmark: `POST /v1/requests` over real HTTP, and `GET /v1/usage` over 1,000,000 requests.

For each database (SQLite, PostgreSQL) it starts `lava serve` on a fresh database, sends
`--requests` reports at concurrency `--concurrency` through keep-alive connections, and prints
requests/s with p50/p99 latency; next to it, a baseline measured in the same run: as many
single-row insert transactions done directly on the same database from one Python process (what
one commit costs there, with no HTTP, auth, pricing or ledger). Then it stores 1,000,000 requests
over 90 days (bulk-loaded together with their roll-ups, as the server writes them) and times
`GET /v1/usage` for those 90 days over HTTP. Finally `lava ledger check` must be clean.

    .venv/bin/python bench/ingest.py                       # both databases
    .venv/bin/python bench/ingest.py --databases sqlite --requests 5000 --usage-requests 100000
    .venv/bin/python bench/ingest.py --workers 1 --baseline-ref 9cdcd6d   # and that commit's

`--baseline-ref REF` builds commit REF in a temporary `git worktree` and runs its server too, in
the same run (each database: the baseline, then this checkout), and prints both with the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from _common import (
    CURRENT,
    Build,
    HttpConnection,
    baseline,
    database,
    dumps,
    free_port,
    lava,
    percentile,
    server,
    summary,
)

from lava_server.db.models import Request, UsageBucket
from lava_server.metering.rollups import ANY, bucket_of


async def post_requests(
    port: int, headers: dict[str, str], bodies: list[bytes], concurrency: int
) -> tuple[float, list[float], dict[int, int]]:
    queue = list(reversed(bodies))
    latencies: list[float] = []
    statuses: dict[int, int] = defaultdict(int)
    send_headers = {**headers, "Content-Type": "application/json"}

    async def worker() -> None:
        connection = HttpConnection("127.0.0.1", port)
        try:
            while queue:
                body = queue.pop()
                started = time.perf_counter()
                status, _ = await connection.request("POST", "/v1/requests", send_headers, body)
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, dict(statuses)


CUSTOMERS = 100  # connections (wallets) the reports are spread over


async def setup(port: int, headers: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    connection = HttpConnection("127.0.0.1", port)
    send = {**headers, "Content-Type": "application/json"}
    try:
        product = {"name": "Chat", "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}]}
        _, body = await connection.request("POST", "/v1/products", send, dumps(product))
        created_product = json.loads(body)
        customers = []
        for _ in range(CUSTOMERS):
            _, body = await connection.request(
                "POST", "/v1/test_helpers/connections", send, dumps({"balance": "1000000"})
            )
            customers.append(json.loads(body))
        return created_product, customers
    finally:
        await connection.close()


def report_bodies(
    prefix: str, count: int, customers: list[dict[str, Any]], product: dict[str, Any]
) -> list[bytes]:
    rng = random.Random(1)
    return [
        dumps(
            {
                "request_id": f"{prefix}-{index}",
                "connection_secret": rng.choice(customers)["connection_secret"],
                "product_secret": product["product_secret"],
                "input_tokens": rng.randrange(10, 4000),
                "output_tokens": rng.randrange(10, 1000),
                "metadata": {"user_id": str(rng.randrange(100))},
            }
        )
        for index in range(count)
    ]


# --- baseline: single-row insert transactions, directly on the database --------------------------


def baseline_sqlite(database_url: str, count: int) -> float:
    path = database_url.removeprefix("sqlite:///")
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")  # what the server uses
    connection.execute("CREATE TABLE bench_baseline (id INTEGER PRIMARY KEY, v TEXT)")
    started = time.perf_counter()
    for index in range(count):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO bench_baseline (v) VALUES (?)", (str(index),))
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.execute("DROP TABLE bench_baseline")
    connection.close()
    return elapsed


async def baseline_postgres(database_url: str, count: int) -> float:
    import asyncpg

    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    await connection.execute("CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, v text)")
    started = time.perf_counter()
    for index in range(count):
        async with connection.transaction():
            await connection.execute("INSERT INTO bench_baseline (v) VALUES ($1)", str(index))
    elapsed = time.perf_counter() - started
    await connection.execute("DROP TABLE bench_baseline")
    await connection.close()
    return elapsed


# --- 1,000,000 stored requests for GET /v1/usage ---------------------------------------------------


def synthetic_requests(
    merchant_id: str, count: int, days: int, end: datetime
) -> tuple[list[dict[str, Any]], dict[tuple[str, str, int], dict[str, Any]]]:
    """Request rows spread over `days` days before `end`, and their roll-ups (all four series)."""
    rng = random.Random(2)
    connections = [f"con_test_{uuid.uuid4().hex[:26].upper()}" for _ in range(50)]
    products = [f"prd_test_{uuid.uuid4().hex[:26].upper()}" for _ in range(3)]
    span = days * 86400
    rows: list[dict[str, Any]] = []
    rollups: dict[tuple[str, str, int], dict[str, Any]] = {}
    fee_per_token = Decimal("0.000002")
    for index in range(count):
        created = end - timedelta(seconds=rng.randrange(span))
        tokens_in, tokens_out = rng.randrange(10, 4000), rng.randrange(10, 1000)
        fee = (fee_per_token * (tokens_in + tokens_out)).quantize(Decimal("1E-10"))
        service = (fee * Decimal("0.019")).quantize(Decimal("1E-10"))
        connection, product = rng.choice(connections), rng.choice(products)
        rows.append(
            {
                "request_id": f"seed-{index}",
                "connection_id": connection,
                "product_id": product,
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "fee": fee,
                "service": service,
                "created_at": created,
            }
        )
        bucket = bucket_of(created)
        for key in ((connection, product), (connection, ANY), (ANY, product), (ANY, ANY)):
            sums = rollups.setdefault(
                (*key, bucket),
                {"requests": 0, "tokens": 0, "fee": Decimal(0), "service": Decimal(0)},
            )
            sums["requests"] += 1
            sums["tokens"] += tokens_in + tokens_out
            sums["fee"] += fee
            sums["service"] += service
    return rows, rollups


def _request_record(merchant_id: str, row: dict[str, Any]) -> dict[str, Any]:
    total = row["fee"] + row["service"]
    return {
        "request_id": row["request_id"],
        "merchant_id": merchant_id,
        "livemode": False,
        "connection_id": row["connection_id"],
        "product_id": row["product_id"],
        "wallet_id": None,
        "status": "completed",
        "provider": "merchant",
        "provider_key_type": "unmanaged",
        "model": None,
        "endpoint": "POST /v1/requests",
        "response_id": None,
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "input_characters": 0,
        "output_characters": 0,
        "input_seconds": 0,
        "output_seconds": 0,
        "input_cost": Decimal(0),
        "output_cost": Decimal(0),
        "total_cost": Decimal(0),
        "model_payer": "wallet",
        "fee_amount": row["fee"],
        "rate_type": "fixed",
        "token_basis": "input+output",
        "fee_breakdown": "[]",
        "service_charge_amount": row["service"],
        "service_charge_payer": "wallet",
        "total_request_cost": total,
        "total_wallet_cost": total,
        "total_merchant_cost": Decimal(0),
        "hold_amount": Decimal(0),
        "metadata": "{}",
        "fingerprint": "seed",
        "timestamp": row["created_at"],
        "created_at": row["created_at"],
        "process_id": None,
        "spend_key_id": None,
    }


def _bucket_record(
    merchant_id: str, key: tuple[str, str, int], sums: dict[str, Any]
) -> dict[str, Any]:
    total = sums["fee"] + sums["service"]
    return {
        "merchant_id": merchant_id,
        "livemode": False,
        "connection_id": key[0],
        "product_id": key[1],
        "bucket": key[2],
        "total_requests": sums["requests"],
        "total_usage_tokens": sums["tokens"],
        "total_usage_cost": Decimal(0),
        "total_fee_amount": sums["fee"],
        "total_service_charge_amount": sums["service"],
        "total_request_cost": total,
        "total_wallet_cost": total,
        "total_merchant_cost": Decimal(0),
    }


REQUEST_COLUMNS = [c.name for c in Request.__table__.columns if c.name != "seq"]
BUCKET_COLUMNS = [c.name for c in UsageBucket.__table__.columns]


def seed_sqlite(
    database_url: str, merchant_id: str, rows: list[dict[str, Any]], rollups: dict
) -> None:
    def encode(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value.scaleb(10))
        if isinstance(value, datetime):
            return (
                value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
            )
        return value

    connection = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    marks = ", ".join("?" for _ in REQUEST_COLUMNS)
    connection.executemany(
        f"INSERT INTO requests ({', '.join(REQUEST_COLUMNS)}) VALUES ({marks})",
        (
            [encode(r[c]) for c in REQUEST_COLUMNS]
            for r in (_request_record(merchant_id, row) for row in rows)
        ),
    )
    marks = ", ".join("?" for _ in BUCKET_COLUMNS)
    connection.executemany(
        f"INSERT INTO usage_buckets ({', '.join(BUCKET_COLUMNS)}) VALUES ({marks})",
        (
            [encode(b[c]) for c in BUCKET_COLUMNS]
            for b in (_bucket_record(merchant_id, k, s) for k, s in rollups.items())
        ),
    )
    connection.execute("COMMIT")
    connection.execute("ANALYZE")
    connection.close()


async def seed_postgres(
    database_url: str, merchant_id: str, rows: list[dict[str, Any]], rollups: dict
) -> None:
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        await connection.copy_records_to_table(
            "requests",
            records=(
                [r[c] for c in REQUEST_COLUMNS]
                for r in (_request_record(merchant_id, row) for row in rows)
            ),
            columns=REQUEST_COLUMNS,
        )
        await connection.copy_records_to_table(
            "usage_buckets",
            records=(
                [b[c] for c in BUCKET_COLUMNS]
                for b in (_bucket_record(merchant_id, k, s) for k, s in rollups.items())
            ),
            columns=BUCKET_COLUMNS,
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def time_usage(port: int, headers: dict[str, str], start: str, calls: int) -> list[float]:
    connection = HttpConnection("127.0.0.1", port)
    latencies = []
    try:
        path = f"/v1/usage?start={start}"
        for index in range(calls + 5):
            started = time.perf_counter()
            status, body = await connection.request("GET", path, headers)
            if index >= 5:  # the first calls warm the server up
                latencies.append(time.perf_counter() - started)
            assert status == 200, body
        items = json.loads(body)["items"]
        assert sum(item["total_requests"] for item in items) > 0
    finally:
        await connection.close()
    return latencies


def bench(kind: str, args: argparse.Namespace, build: Build = CURRENT) -> dict[str, Any]:
    print(f"\n=== {kind}, {build.name} ===")
    with database(kind) as database_url:
        lava("ledger", "check", "--database-url", database_url, build=build)  # the schema
        merchant = json.loads(
            lava(
                "merchants",
                "create",
                "Bench",
                "--json",
                "--database-url",
                database_url,
                build=build,
            )
        )
        headers = {"Authorization": f"Bearer {merchant['secret_key']}"}
        port = free_port()
        limits = {"LAVA_RATE_LIMIT_PER_MINUTE": "100000000"}
        with server(database_url, port, args.workers, limits, build):
            product, customers = asyncio.run(setup(port, headers))
            asyncio.run(
                post_requests(
                    port,
                    headers,
                    report_bodies("warm", min(500, args.requests), customers, product),
                    args.concurrency,
                )
            )
            bodies = report_bodies("bench", args.requests, customers, product)
            elapsed, latencies, statuses = asyncio.run(
                post_requests(port, headers, bodies, args.concurrency)
            )
            assert statuses == {201: args.requests}, statuses
            rate = args.requests / elapsed
            print(
                f"POST /v1/requests  {args.requests} over {CUSTOMERS} wallets at concurrency {args.concurrency}, {args.workers} worker(s): "
                f"{rate:7.0f} req/s  {summary(latencies)}"
            )

            if kind == "sqlite":
                base_elapsed = baseline_sqlite(database_url, args.requests)
            else:
                base_elapsed = asyncio.run(baseline_postgres(database_url, args.requests))
            base_rate = args.requests / base_elapsed
            print(
                f"baseline: {args.requests} single-row insert transactions, one process: {base_rate:7.0f} tx/s"
                f"  -> server/baseline = {rate / base_rate:.2f}x"
            )

            usage_latencies: list[float] = []
            if build is not CURRENT:
                # The bulk loader writes the current schema's columns; an older commit's tables
                # lack some of them. Its GET /v1/usage is not measured.
                print(f"GET /v1/usage: not measured for {build.name} (an older schema)")
            else:
                usage_merchant = json.loads(
                    lava(
                        "merchants",
                        "create",
                        "Usage",
                        "--json",
                        "--database-url",
                        database_url,
                        build=build,
                    )
                )
                end = datetime.now(timezone.utc)
                started = time.perf_counter()
                rows, rollups = synthetic_requests(
                    usage_merchant["merchant_id"], args.usage_requests, 90, end
                )
                if kind == "sqlite":
                    seed_sqlite(database_url, usage_merchant["merchant_id"], rows, rollups)
                else:
                    asyncio.run(
                        seed_postgres(database_url, usage_merchant["merchant_id"], rows, rollups)
                    )
                print(
                    f"stored {args.usage_requests} requests over 90 days ({len(rollups)} roll-up rows) "
                    f"in {time.perf_counter() - started:.0f} s"
                )
                start = (end - timedelta(days=89)).strftime("%Y-%m-%dT%H:%M:%S%%2B05:30")
                usage_headers = {"Authorization": f"Bearer {usage_merchant['secret_key']}"}
                usage_latencies = asyncio.run(
                    time_usage(port, usage_headers, start, args.usage_calls)
                )
                print(
                    f"GET /v1/usage (90 days, +05:30, {args.usage_requests} requests stored): {summary(usage_latencies)}"
                )
        check = lava("ledger", "check", "--database-url", database_url, build=build)
        print(check.strip())
    return {
        "rate": rate,
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "baseline": base_rate,
        "usage_p50": percentile(usage_latencies, 0.5) if usage_latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--usage-requests", type=int, default=1_000_000)
    parser.add_argument("--usage-calls", type=int, default=100)
    parser.add_argument(
        "--baseline-ref",
        help="also run the server of this commit (built in a temporary git worktree) in the "
        "same run, and print both with their ratio",
    )
    args = parser.parse_args()
    if args.baseline_ref:
        with baseline(args.baseline_ref) as old:
            pairs = {
                kind: (bench(kind, args, old), bench(kind, args, CURRENT))
                for kind in args.databases.split(",")
            }
        print(f"\nPOST /v1/requests: {old.name} -> this checkout (same run)")
        for kind, (before, after) in pairs.items():
            print(
                f"  {kind:10} {before['rate']:6.0f} -> {after['rate']:6.0f} req/s "
                f"({after['rate'] / before['rate']:.2f}x)   p50 {before['p50'] * 1000:5.1f} -> "
                f"{after['p50'] * 1000:5.1f} ms   p99 {before['p99'] * 1000:5.1f} -> "
                f"{after['p99'] * 1000:5.1f} ms   raw insert baseline {after['baseline']:6.0f} tx/s"
            )
        return
    results = {kind: bench(kind, args) for kind in args.databases.split(",")}
    print("\nsummary (targets: >= 1000 req/s, p99 < 50 ms, usage p50 < 20 ms)")
    for kind, r in results.items():
        print(
            f"  {kind:10} {r['rate']:6.0f} req/s  p50 {r['p50'] * 1000:5.1f} ms  p99 {r['p99'] * 1000:5.1f} ms  "
            f"baseline {r['baseline']:6.0f} tx/s ({r['rate'] / r['baseline']:.2f}x)  usage p50 {r['usage_p50'] * 1000:5.1f} ms"
        )


if __name__ == "__main__":
    main()
