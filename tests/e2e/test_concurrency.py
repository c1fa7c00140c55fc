"""Many clients debiting one wallet through several server processes at once (`issue 3`, item 6).

Runs on PostgreSQL (the deployment with many processes) and on SQLite (several processes on one
file). Balances must reconcile to the cent with `lava ledger check`, never go below zero under
`block`, and a SIGKILLed server must lose nothing it answered 2xx and leave nothing half-written.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.servers import free_port, lava_cli, start_server, stop_server

pytestmark = pytest.mark.slow


def setup_merchant(database_url: str) -> tuple[dict[str, str], str]:
    result = lava_cli("merchants", "create", "Load", "--json", "--database-url", database_url)
    assert result.returncode == 0, result.stderr
    key = json.loads(result.stdout)["secret_key"]
    return {"Authorization": f"Bearer {key}"}, json.loads(result.stdout)["merchant_id"]


def ledger_is_clean(database_url: str) -> dict[str, Any]:
    result = lava_cli("ledger", "check", "--json", "--database-url", database_url)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["problems"] == [], result.stdout + result.stderr
    return dict(report)


async def fund_connection(
    base: str, headers: dict[str, str], balance: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, headers=headers) as http:
        product = (
            await http.post(
                "products",
                json={"name": "Load", "tiers": [{"start": 0, "rate": "1000", "type": "tokens_1m"}]},
            )
        ).json()
        connection = (await http.post("test_helpers/connections", json={"balance": balance})).json()
    return product, connection


async def hammer(
    bases: list[str],
    headers: dict[str, str],
    product: dict[str, Any],
    connection: dict[str, Any],
    *,
    requests: int,
    concurrency: int,
    duplicates: int,
    answers: dict[str, list[Any]] | None = None,
) -> dict[str, list[Any]]:
    """Send `requests` reports (each id `duplicates` times, to different servers) and collect the
    answers by request id (into `answers`, if given, to watch them come); connection errors are
    recorded as None."""
    rng = random.Random(42)
    jobs = []
    for index in range(requests):
        tokens = rng.randrange(1, 2_000)
        for copy in range(duplicates):
            jobs.append((bases[(index + copy) % len(bases)], f"load-{index}", tokens))
    rng.shuffle(jobs)
    if answers is None:
        answers = {}
    queue: asyncio.Queue[tuple[str, str, int]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    clients = {
        base: httpx.AsyncClient(base_url=base, headers=headers, timeout=30) for base in bases
    }

    async def worker() -> None:
        while not queue.empty():
            base, request_id, tokens = queue.get_nowait()
            body = {
                "request_id": request_id,
                "connection_secret": connection["connection_secret"],
                "product_secret": product["product_secret"],
                "input_tokens": tokens,
            }
            try:
                response = await clients[base].post("requests", json=body)
                answers.setdefault(request_id, []).append((response.status_code, response.json()))
            except httpx.TransportError:
                answers.setdefault(request_id, []).append(None)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        for client in clients.values():
            await client.aclose()
    return answers


async def stored_requests(base: str, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(base_url=base, headers=headers) as http:
        cursor = None
        while True:
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            page = (await http.get("requests", params=params)).json()
            found.update((item["request_id"], item) for item in page["data"])
            if not page["has_more"]:
                return found
            cursor = page["next_cursor"]


async def balance(base: str, headers: dict[str, str], connection_id: str) -> Decimal:
    async with httpx.AsyncClient(base_url=base, headers=headers) as http:
        return Decimal((await http.get(f"connections/{connection_id}")).json()["wallet"]["balance"])


def test_many_clients_one_wallet_several_processes(database_url: str, tmp_path: Path) -> None:
    servers = [start_server(database_url, free_port(), tmp_path)[0] for _ in range(3)]
    try:
        bases = [f"http://127.0.0.1:{server.args[3]}/v1/" for server in servers]
        headers, _ = setup_merchant(database_url)
        # Each request costs about $1 at $1000 per 1M tokens: $150 runs out part way.
        product, connection = asyncio.run(fund_connection(bases[0], headers, "150"))
        answers = asyncio.run(
            hammer(bases, headers, product, connection, requests=400, concurrency=24, duplicates=2)
        )
        stored = asyncio.run(stored_requests(bases[1], headers))
        final = asyncio.run(balance(bases[2], headers, connection["connection_id"]))
    finally:
        for server in servers:
            stop_server(server)

    created = 0
    charged = Decimal(0)
    refused = 0
    for request_id, results in answers.items():
        statuses = sorted(result[0] for result in results)
        assert None not in results
        if 402 in statuses:
            refused += 1
            assert statuses == [402, 402], statuses  # refused: neither copy charged
        else:
            assert statuses == [200, 201], statuses  # one charge; the other copy replays it
        if 201 in statuses:
            created += 1
            body = next(result[1] for result in results if result[0] == 201)
            assert stored[request_id] == body
            charged += Decimal(body["total_wallet_cost"])
    assert created == len(stored)
    assert refused > 0, "the wallet should have run out part way"
    assert final == Decimal(150) - charged
    assert final >= 0
    report = ledger_is_clean(database_url)
    assert report["entries"] == 2 + 3 * created


def test_sigkill_mid_load_loses_nothing_answered(database_url: str, tmp_path: Path) -> None:
    doomed, _ = start_server(database_url, free_port(), tmp_path)
    survivor, _ = start_server(database_url, free_port(), tmp_path)
    try:
        bases = [f"http://127.0.0.1:{p.args[3]}/v1/" for p in (doomed, survivor)]
        headers, _ = setup_merchant(database_url)
        product, connection = asyncio.run(fund_connection(bases[1], headers, "100000"))

        async def load_and_kill() -> dict[str, list[Any]]:
            so_far: dict[str, list[Any]] = {}
            task = asyncio.create_task(
                hammer(
                    bases,
                    headers,
                    product,
                    connection,
                    requests=600,
                    concurrency=16,
                    duplicates=1,
                    answers=so_far,
                )
            )
            while len(so_far) < 100 and not task.done():  # under way, far from done
                await asyncio.sleep(0.005)
            doomed.send_signal(signal.SIGKILL)
            return await task

        answers = asyncio.run(load_and_kill())
        stored = asyncio.run(stored_requests(bases[1], headers))
        final = asyncio.run(balance(bases[1], headers, connection["connection_id"]))
    finally:
        doomed.kill()
        doomed.communicate(timeout=10)
        stop_server(survivor)

    answered = {rid: r[0][1] for rid, r in answers.items() if r[0] is not None and r[0][0] == 201}
    lost_connections = [rid for rid, r in answers.items() if r[0] is None]
    assert lost_connections, "the kill should have cut some requests off"
    for request_id, body in answered.items():
        assert stored[request_id] == body  # answered 2xx: stored exactly as answered
    # Whatever else got stored (cut off after commit) is complete: the wallet matches the ledger and
    # the stored requests, to the cent.
    assert final == Decimal(100000) - sum(Decimal(r["total_wallet_cost"]) for r in stored.values())
    report = ledger_is_clean(database_url)
    assert report["entries"] == 2 + 3 * len(stored)
