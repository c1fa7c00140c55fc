"""Benchmark: the dashboard's pages with 1,000,000 requests stored.

For each database it starts `lava serve` on a fresh database, creates a merchant with 50 real
customers and a dashboard admin (signed in through a one-time link, as a browser would), stores
1,000,000 requests over 90 days for those customers with their roll-ups (`bench/ingest.py`'s
bulk loader), then times each page over HTTP, sequentially: p50 and p99 of `--calls` calls after
a few warm-up calls. Pages must answer in under 100 ms at p50. The baseline, in the same run: the
API's own `GET /v1/usage` over the same 90 days (the read the Overview is built on), timed the
same way; each page prints its p50 as a ratio of the baseline's.

    .venv/bin/python bench/dashboard.py                          # SQLite
    .venv/bin/python bench/dashboard.py --databases sqlite,postgresql --requests 200000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from _common import HttpConnection, database, free_port, lava, percentile, server, summary
from ingest import seed_postgres, seed_sqlite, synthetic_requests

CUSTOMERS = 50
TARGET_P50 = 0.100
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def customers(url: str, secret_key: str) -> list[str]:
    headers = {"Authorization": f"Bearer {secret_key}"}
    made = []
    with httpx.Client(base_url=url, headers=headers) as api:
        for n in range(CUSTOMERS):
            answer = api.post(
                "test_helpers/connections",
                json={"balance": "100", "reference_id": f"user-{n}", "email": f"u{n}@example.com"},
            )
            answer.raise_for_status()
            made.append(answer.json()["connection_id"])
    return made


def for_customers(
    rows: list[dict[str, Any]], rollups: dict[tuple[str, str, int], Any], real: list[str]
) -> dict[tuple[str, str, int], Any]:
    """The loader's made-up connection ids (up to 50) replaced by real customers'."""
    fake = sorted({row["connection_id"] for row in rows})
    mapping = dict(zip(fake, real, strict=False))
    for row in rows:
        row["connection_id"] = mapping[row["connection_id"]]
    return {(mapping.get(c, c), p, b): sums for (c, p, b), sums in rollups.items()}


def sign_in(root: str, link: str) -> str:
    """The session cookie, through the one-time link as a browser would."""
    with httpx.Client(base_url=root) as browser:
        page = browser.get(link)
        token = _CSRF.search(page.text)
        assert token is not None, page.text
        done = browser.post(link, data={"csrf_token": token.group(1)})
        assert done.status_code == 303, done.text
        return str(browser.cookies["lava_dashboard"])


async def time_page(port: int, headers: dict[str, str], path: str, calls: int) -> list[float]:
    connection = HttpConnection("127.0.0.1", port)
    latencies = []
    try:
        for index in range(calls + 3):
            started = time.perf_counter()
            status, body = await connection.request("GET", path, headers)
            if index >= 3:
                latencies.append(time.perf_counter() - started)
            assert status == 200, (path, status, body[:300])
    finally:
        await connection.close()
    return latencies


def bench(kind: str, args: argparse.Namespace) -> dict[str, float]:
    print(f"\n=== {kind} ===")
    found: dict[str, float] = {}
    with database(kind) as database_url:
        merchant = json.loads(
            lava("merchants", "create", "Bench", "--json", "--database-url", database_url)
        )
        user = json.loads(
            lava(
                "users",
                "create",
                "bench@example.com",
                "--merchant",
                merchant["merchant_id"],
                "--json",
                "--database-url",
                database_url,
            )
        )
        port = free_port()
        with server(database_url, port, 1, {"LAVA_RATE_LIMIT_PER_MINUTE": "100000000"}) as url:
            root = url.removesuffix("v1/")
            real = customers(url, merchant["secret_key"])
            end = datetime.now(timezone.utc)
            started = time.perf_counter()
            rows, rollups = synthetic_requests(merchant["merchant_id"], args.requests, 90, end)
            rollups = for_customers(rows, rollups, real)
            if kind == "sqlite":
                seed_sqlite(database_url, merchant["merchant_id"], rows, rollups)
            else:
                asyncio.run(seed_postgres(database_url, merchant["merchant_id"], rows, rollups))
            del rows
            print(
                f"stored {args.requests:,} requests over 90 days ({len(rollups):,} roll-up rows) "
                f"in {time.perf_counter() - started:.0f} s"
            )
            cookie = sign_in(root, "/" + user["link"].split("/", 3)[3])
            start_day = (end - timedelta(days=90)).date().isoformat()
            baseline = asyncio.run(
                time_page(
                    port,
                    {"Authorization": f"Bearer {merchant['secret_key']}"},
                    f"/v1/usage?start={start_day}T00:00:00Z",
                    args.calls,
                )
            )
            base_p50 = percentile(baseline, 0.5)
            print(f"{'baseline: GET /v1/usage, 90 days':32} {summary(baseline)}")
            pages = {
                "Overview, 30 days": "/dashboard/test/",
                "Overview, 90 days + previous": "/dashboard/test/?days=90&compare=1",
                "Customers": "/dashboard/test/customers",
                "Customers, search": "/dashboard/test/customers?q=u7%40example.com",
                "Customer": f"/dashboard/test/customers/{real[0]}",
                "Requests": "/dashboard/test/requests",
                "Requests of a customer": f"/dashboard/test/requests?customer={real[0]}",
                "Meters": "/dashboard/test/meters",
                "Plans": "/dashboard/test/plans",
                "Checkout": "/dashboard/test/checkout",
                "Keys": "/dashboard/test/keys",
                "Webhooks": "/dashboard/test/webhooks",
                "Settings": "/dashboard/test/settings",
            }
            cookie_headers = {"Cookie": f"lava_dashboard={cookie}"}
            for name, path in pages.items():
                latencies = asyncio.run(time_page(port, cookie_headers, path, args.calls))
                found[name] = percentile(latencies, 0.5)
                verdict = "ok" if found[name] < TARGET_P50 else "OVER 100 ms"
                ratio = found[name] / base_p50
                print(f"{name:32} {summary(latencies)}  {ratio:5.2f}x baseline  [{verdict}]")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite")
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    for kind in args.databases.split(","):
        bench(kind, args)


if __name__ == "__main__":
    main()
