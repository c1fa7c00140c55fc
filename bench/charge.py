"""Benchmark: the CPU of one charge, in process, at concurrency 1.

For each database it creates a merchant, a single-tier product and a funded connection, then
runs `--calls` forward calls' money through `metering` exactly as `/v1/forward` does (a hold,
then a settlement), and as many `POST /v1/requests` reports through the group commit. It prints
the CPU time (`time.process_time`: this process's threads, the SQLite engine's included; not the
PostgreSQL server's) of each settlement and each report, p50 and mean. With `--profile` it also
runs the settlements under cProfile and prints where their time goes; with `--statements` it
prints the CPU each statement of a settlement and of a report takes on the driver's connection
(`db.driver.DriverSession`), its conversions included.

    .venv/bin/python bench/charge.py
    .venv/bin/python bench/charge.py --databases sqlite --calls 2000 --profile
    .venv/bin/python bench/charge.py --statements
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import statistics
import time
from typing import Any

import httpx
from _common import database, lava

from lava_server.api.auth import hash_secret_key
from lava_server.app import create_app
from lava_server.db.driver import DriverSession
from lava_server.db.engine import Database
from lava_server.metering.forward import Call, ForwardBilling
from lava_server.metering.reported import RequestBatcher
from lava_server.model_prices.book import PriceBook
from lava_server.proxy.credentials import decode_token
from lava_server.proxy.usage import make_usage
from lava_server.requests.schemas import RequestCreate
from lava_server.settings import Settings
from lavapayments.forward_token import encode_forward_token

MODEL = "gpt-4o-mini"


async def measure(url: str, calls: int, profile: bool) -> dict[str, float]:
    merchant = json.loads(lava("merchants", "create", "Bench", "--json", "--database-url", url))
    settings = Settings(database_url=url)
    db = Database(settings.database_url, pool_size=5)
    headers = {"Authorization": f"Bearer {merchant['secret_key']}"}
    app = create_app(settings, db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://lava.test"
    ) as http:
        product = (
            await http.post(
                "/v1/products",
                json={"name": "Chat", "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}]},
                headers=headers,
            )
        ).json()
        connection = (
            await http.post(
                "/v1/test_helpers/connections", json={"balance": "100000"}, headers=headers
            )
        ).json()
    token = decode_token(
        encode_forward_token(
            secret_key=merchant["secret_key"],
            connection_secret=connection["connection_secret"],
            product_secret=product["product_secret"],
        )
    )
    prices = PriceBook()
    pricing = prices.lookup("openai", MODEL)
    billing = ForwardBilling(db, settings, prices)
    worst = make_usage(input_tokens=20, output_tokens=64, estimated=True)
    usage = make_usage(input_tokens=20, output_tokens=12, model=MODEL, response_id="chatcmpl-1")

    async def one_call(n: int, profiler: cProfile.Profile | None) -> float:
        call = Call(
            f"call-{n}", "openai", "managed", "POST /v1/chat/completions", MODEL, pricing, {}, worst
        )
        reservation = await billing.reserve(token, call)
        started = time.process_time()
        if profiler is not None:
            profiler.enable()
        await billing.settle(reservation, usage, status="completed")
        if profiler is not None:
            profiler.disable()
        return time.process_time() - started

    for n in range(min(200, calls)):  # warm up: connections, caches, compiled statements
        await one_call(n, None)
    if STATEMENTS is not None:
        STATEMENTS.active = True
    before = os.times()
    settles = [await one_call(1000 + n, None) for n in range(calls)]
    after = os.times()
    # User and kernel CPU over the whole series (the holds included, as they alternate):
    # the kernel's share is mostly the durable commits' writes and fsyncs.
    series_user = (after.user - before.user) / calls
    series_system = (after.system - before.system) / calls
    if STATEMENTS is not None:
        STATEMENTS.active = False
        STATEMENTS.report("settlements", calls)
    profiler = None
    if profile:
        profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
        for n in range(calls):
            await one_call(100_000 + n, profiler)

    batcher = RequestBatcher(db, settings, prices)
    key_hash = hash_secret_key(merchant["secret_key"])

    async def one_report(n: int) -> float:
        params = RequestCreate(
            request_id=f"report-{n}",
            connection_secret=connection["connection_secret"],
            product_secret=product["product_secret"],
            input_tokens=20,
            output_tokens=12,
            model=MODEL,
        )
        started = time.process_time()
        await batcher.submit(key_hash, params)
        return time.process_time() - started

    for n in range(min(200, calls)):
        await one_report(n)
    if STATEMENTS is not None:
        STATEMENTS.active = True
    reports = [await one_report(1000 + n) for n in range(calls)]
    if STATEMENTS is not None:
        STATEMENTS.active = False
        STATEMENTS.report("reports", calls)
    await billing.aclose()
    await batcher.aclose()
    await db.dispose()
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(35)
        print(out.getvalue())
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        print(out.getvalue())
    return {
        "settle_p50": statistics.median(settles),
        "settle_mean": statistics.fmean(settles),
        "report_p50": statistics.median(reports),
        "report_mean": statistics.fmean(reports),
        "series_user": series_user,
        "series_system": series_system,
    }


class StatementTimes:
    """CPU per statement run on the driver's connection, while `active`."""

    def __init__(self) -> None:
        self.active = False
        self.times: dict[tuple[str, bool], list[Any]] = {}
        self._names: dict[int, str] = {}
        self._execute = DriverSession.execute

        async def timed(session: DriverSession, statement: Any, params: Any = None) -> Any:
            started = time.process_time()
            result = await self._execute(session, statement, params)
            spent = time.process_time() - started
            if self.active:
                name = self._names.get(id(statement))
                if name is None:  # (statements built per call: named again each time)
                    name = str(statement).split("\n")[0][:78]
                    self._names[id(statement)] = name
                key = (name, isinstance(params, list))
                entry = self.times.setdefault(key, [0, 0.0])
                entry[0] += 1
                entry[1] += spent
            return result

        DriverSession.execute = timed  # type: ignore[method-assign]

    def report(self, title: str, operations: int) -> None:
        print(f"  {title}: CPU per operation of each statement (driver's connection)")
        rows = sorted(self.times.items(), key=lambda item: -item[1][1])
        for (name, many), (count, cpu) in rows:
            print(
                f"    {cpu / operations * 1000:6.3f} ms  x{count / operations:4.1f}  "
                f"{name}{' (many)' if many else ''}"
            )
        print(f"    {sum(e[1] for e in self.times.values()) / operations * 1000:6.3f} ms  in all")
        self.times.clear()
        self._names.clear()


STATEMENTS: StatementTimes | None = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--statements", action="store_true")
    args = parser.parse_args()
    global STATEMENTS
    if args.statements:
        STATEMENTS = StatementTimes()
    for kind in args.databases.split(","):
        with database(kind) as url:
            lava("ledger", "check", "--database-url", url)  # creates the schema
            figures = asyncio.run(measure(url, args.calls, args.profile))
            print(
                f"{kind:10}  CPU per settlement p50 {figures['settle_p50'] * 1000:.3f} ms, "
                f"mean {figures['settle_mean'] * 1000:.3f} ms;  per report p50 "
                f"{figures['report_p50'] * 1000:.3f} ms, mean {figures['report_mean'] * 1000:.3f} ms"
            )
            print(
                f"{'':10}  a hold and a settlement, CPU per call: user "
                f"{figures['series_user'] * 1000:.3f} ms, kernel "
                f"{figures['series_system'] * 1000:.3f} ms"
            )


if __name__ == "__main__":
    main()
