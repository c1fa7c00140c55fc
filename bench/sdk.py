"""Benchmark: per-call overhead of the SDK's `Lava` and `AsyncLava` against plain httpx.

Starts `lava serve` (SQLite) with a sandbox merchant and one connection, then times the same
call, `GET /v1/connections/{id}`, made sequentially with: plain `httpx.Client`, `Lava`, plain
`httpx.AsyncClient`, `AsyncLava` (rounds interleaved so that drift hits all alike). Prints the
time per call of each and the SDK/httpx ratio (target: at most 1.25x), and the SDK's own cost
per call (the difference).

    .venv/bin/python bench/sdk.py [--calls 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx
from _common import HttpConnection, database, dumps, free_port, lava, server

from lavapayments import AsyncLava, Lava


async def seed(port: int, key: str) -> str:
    connection = HttpConnection("127.0.0.1", port)
    try:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        _, body = await connection.request(
            "POST", "/v1/test_helpers/connections", headers, dumps({"balance": "5"})
        )
        return str(json.loads(body)["connection_id"])
    finally:
        await connection.close()


def time_sync(call: object, calls: int) -> float:
    assert callable(call)
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls


async def time_async(call: object, calls: int) -> float:
    assert callable(call)
    started = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with database("sqlite") as url:
        merchant = json.loads(
            lava("merchants", "create", "SDK bench", "--json", "--database-url", url)
        )
        key = merchant["secret_key"]
        port = free_port()
        with server(url, port, 1, {"LAVA_RATE_LIMIT_PER_MINUTE": "100000000"}) as base:
            connection_id = asyncio.run(seed(port, key))
            path = f"{base}connections/{connection_id}"
            headers = {"Authorization": f"Bearer {key}", "X-Lava-API-Version": "2025-04-28.v1"}
            results: dict[str, list[float]] = {
                "httpx": [],
                "Lava": [],
                "httpx async": [],
                "AsyncLava": [],
            }
            with httpx.Client(headers=headers) as plain, Lava(key, base_url=base) as sdk:
                for _ in range(args.rounds):
                    results["httpx"].append(time_sync(lambda: plain.get(path).json(), args.calls))
                    results["Lava"].append(
                        time_sync(lambda: sdk.connections.retrieve(connection_id), args.calls)
                    )

            async def run_async() -> None:
                async with (
                    httpx.AsyncClient(headers=headers) as plain_async,
                    AsyncLava(key, base_url=base) as sdk_async,
                ):

                    async def plain_call() -> object:
                        return (await plain_async.get(path)).json()

                    async def sdk_call() -> object:
                        return await sdk_async.connections.retrieve(connection_id)

                    for _ in range(args.rounds):
                        results["httpx async"].append(await time_async(plain_call, args.calls))
                        results["AsyncLava"].append(await time_async(sdk_call, args.calls))

            asyncio.run(run_async())

    median = {name: statistics.median(values) for name, values in results.items()}
    print(
        f"GET /v1/connections/{{id}} against lava serve (SQLite), {args.calls} calls x {args.rounds} rounds, median per call:"
    )
    for name, value in median.items():
        print(f"  {name:12} {value * 1e6:8.1f} us")
    for sdk_name, plain_name in (("Lava", "httpx"), ("AsyncLava", "httpx async")):
        ratio = median[sdk_name] / median[plain_name]
        extra = (median[sdk_name] - median[plain_name]) * 1e6
        verdict = "OK" if ratio <= 1.25 else "over the 1.25x target"
        print(f"  {sdk_name} / {plain_name}: {ratio:.3f}x  (+{extra:.1f} us per call)  {verdict}")


if __name__ == "__main__":
    main()
