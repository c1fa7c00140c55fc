"""Benchmark: webhook deliveries per second to a fast local receiver, and what webhooks cost the
API's ingest (`POST /v1/requests`), with them on vs off, in one run.

For each database:

1. Ingest, webhooks off: `lava serve` on a fresh database, 100 funded customers, then
   `--requests` reports at concurrency 32 (as `bench/ingest.py`); requests/s.
2. Ingest, webhooks on: the same on another fresh database whose merchant has `--endpoints`
   endpoints subscribed to every event, pointed at the receiver (a separate process answering
   200 at once); the customers' own events are delivered before the reports start. Every
   report debits a wallet: its balance event is coalesced per wallet and window
   (`LAVA_WEBHOOK_BALANCE_COALESCE_S`, default 60 s). The ratio on/off must stay above 0.90.
3. Deliveries/s: with `LAVA_SEPARATE_WORKER=true` the server only records events; `--events`
   credits (each a balance event, to each endpoint) are made, then one `lava worker` process is
   started and timed until the receiver has every delivery.

    .venv/bin/python bench/webhooks.py
    .venv/bin/python bench/webhooks.py --databases sqlite --requests 2000 --events 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import LAVA, HttpConnection, clean_env, database, dumps, free_port, lava, server
from ingest import post_requests, report_bodies, setup

FAST = {
    "LAVA_RATE_LIMIT_PER_MINUTE": "100000000",
    "LAVA_WEBHOOKS_ALLOW_HTTP": "true",
}


def receiver_main(port: int) -> None:
    """The receiver process: answers 200 at once; `GET /count` says how many it got."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    count = 0

    async def hook(request: Request) -> PlainTextResponse:
        nonlocal count
        await request.body()
        count += 1
        return PlainTextResponse("ok")

    async def counted(_request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(count))

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"]), Route("/count", counted)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def call(port: int, method: str, path: str, headers: dict[str, str], body: Any = None):
    connection = HttpConnection("127.0.0.1", port)
    try:
        send = {**headers, "Content-Type": "application/json"}
        status, answer = await connection.request(
            method, path, send, dumps(body) if body is not None else None
        )
        return status, json.loads(answer) if answer else None
    finally:
        await connection.close()


def received(port: int) -> int:
    _, body = asyncio.run(_raw(port, "/count"))
    return int(body)


async def _raw(port: int, path: str) -> tuple[int, bytes]:
    connection = HttpConnection("127.0.0.1", port)
    try:
        return await connection.request("GET", path, {})
    finally:
        await connection.close()


def subscribe(port: int, headers: dict[str, str], hook_port: int, endpoints: int) -> None:
    for n in range(endpoints):
        status, _ = asyncio.run(
            call(
                port,
                "POST",
                "/v1/webhooks",
                headers,
                {"name": f"bench{n}", "url": f"http://127.0.0.1:{hook_port}/hook"},
            )
        )
        assert status == 201, status


def ingest(kind: str, args: argparse.Namespace, hook_port: int | None) -> float:
    with database(kind) as database_url:
        lava("ledger", "check", "--database-url", database_url)
        merchant = json.loads(
            lava("merchants", "create", "Bench", "--json", "--database-url", database_url)
        )
        headers = {"Authorization": f"Bearer {merchant['secret_key']}"}
        port = free_port()
        with server(database_url, port, 1, FAST):
            if hook_port is not None:
                subscribe(port, headers, hook_port, args.endpoints)
            before = received(hook_port) if hook_port is not None else 0
            product, customers = asyncio.run(setup(port, headers))
            if hook_port is not None:  # the customers' events (created, funded) are sent first
                while received(hook_port) < before + 2 * len(customers) * args.endpoints:
                    time.sleep(0.05)
            asyncio.run(
                post_requests(
                    port,
                    headers,
                    report_bodies("warm", min(500, args.requests), customers, product),
                    32,
                )
            )
            bodies = report_bodies("bench", args.requests, customers, product)
            elapsed, _, statuses = asyncio.run(post_requests(port, headers, bodies, 32))
            assert statuses == {201: args.requests}, statuses
        rate = args.requests / elapsed
        on = "on " if hook_port is not None else "off"
        print(f"POST /v1/requests, webhooks {on}: {rate:7.0f} req/s")
        return rate


def deliveries(kind: str, args: argparse.Namespace, hook_port: int) -> float:
    with database(kind) as database_url:
        lava("ledger", "check", "--database-url", database_url)
        merchant = json.loads(
            lava("merchants", "create", "Bench", "--json", "--database-url", database_url)
        )
        headers = {"Authorization": f"Bearer {merchant['secret_key']}"}
        port = free_port()
        with server(database_url, port, 1, {**FAST, "LAVA_SEPARATE_WORKER": "true"}):
            subscribe(port, headers, hook_port, args.endpoints)
            _, customer = asyncio.run(
                call(port, "POST", "/v1/test_helpers/connections", headers, {})
            )
            path = f"/v1/test_helpers/connections/{customer['connection_id']}/fund"

            async def credits() -> None:
                connection = HttpConnection("127.0.0.1", port)
                send = {**headers, "Content-Type": "application/json"}
                try:
                    for _ in range(args.events):
                        status, _ = await connection.request(
                            "POST", path, send, dumps({"amount": "1"})
                        )
                        assert status == 200, status
                finally:
                    await connection.close()

            asyncio.run(credits())
            before = received(hook_port)
            expected = before + (args.events + 1) * args.endpoints  # + customer.created
            env = {**clean_env(), **FAST, "LAVA_DATABASE_URL": database_url}
            started = time.perf_counter()
            worker = subprocess.Popen(
                [LAVA, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                while received(hook_port) < expected:
                    if time.perf_counter() - started > 300:
                        raise RuntimeError("deliveries did not finish")
                    time.sleep(0.05)
                elapsed = time.perf_counter() - started
            finally:
                worker.terminate()
                worker.wait(30)
        total = expected - before
        rate = total / elapsed
        print(
            f"deliveries: {total} ({args.events + 1} events x {args.endpoints} endpoints) by one "
            f"`lava worker` in {elapsed:.2f} s (start-up included): {rate:7.0f} deliveries/s"
        )
        return rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        receiver_main(args.receiver)
        return
    hook_port = free_port()
    hook = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "--receiver", str(hook_port)],
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                received(hook_port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        results = {}
        for kind in args.databases.split(","):
            print(f"\n=== {kind} ===")
            off = ingest(kind, args, None)
            on = ingest(kind, args, hook_port)
            rate = deliveries(kind, args, hook_port)
            print(f"ingest with webhooks on / off = {on / off:.2f}")
            results[kind] = (off, on, rate)
        print("\nsummary (target: ingest on/off >= 0.90)")
        for kind, (off, on, rate) in results.items():
            print(
                f"  {kind:10} ingest off {off:6.0f} req/s  on {on:6.0f} req/s  "
                f"({on / off:.2f})  deliveries {rate:6.0f}/s"
            )
    finally:
        hook.terminate()
        hook.wait(10)


if __name__ == "__main__":
    main()
