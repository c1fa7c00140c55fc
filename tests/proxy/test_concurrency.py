"""Zero overspend under concurrency (issue 5, item 7): 100 forwarded calls at once against a
wallet that can pay for only some of them, through two `lava serve` processes on PostgreSQL, to a
`lava fake-provider` process. The balance never goes below zero under `block`, every answered
call is billed exactly once, every refused one is neither forwarded nor charged, and
`lava ledger check` is clean."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import _asyncpg_dsn
from tests.e2e.servers import lava_cli, stop_server
from tests.proxy.processes import fund, start_stack

pytestmark = pytest.mark.slow

CALLS = 100
MAX_TOKENS = 100


async def forward_all(bases: list[str], token: str) -> list[tuple[int, str, bool]]:
    """(status, x-lava-request-id, streamed) of each call, all started at once."""

    async def one(index: int, http: httpx.AsyncClient) -> tuple[int, str, bool]:
        stream = index % 2 == 1
        body = {
            "model": "gpt-4o-mini",
            "max_tokens": MAX_TOKENS,
            "stream": stream,
            "messages": [{"role": "user", "content": f"call {index} fake-tokens-{MAX_TOKENS}"}],
        }
        base = bases[index % len(bases)]
        response = await http.post(
            f"{base}/v1/forward/chat/completions?u=https://api.openai.com/v1",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code == 200 and stream:
            assert response.text.rstrip().endswith("data: [DONE]")
        return response.status_code, response.headers["x-lava-request-id"], stream

    limits = httpx.Limits(max_connections=CALLS, max_keepalive_connections=CALLS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        return await asyncio.gather(*(one(i, http) for i in range(CALLS)))


async def stored_state(database_url: str, wallet_connection: str) -> dict[str, Any]:
    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        wallet = await connection.fetchrow(
            "SELECT w.balance, w.held FROM wallets w JOIN connections c ON c.wallet_id = w.id "
            "WHERE c.id = $1",
            wallet_connection,
        )
        requests = await connection.fetch(
            "SELECT seq, request_id, status, total_wallet_cost, hold_amount FROM requests"
        )
        debits = await connection.fetch(
            "SELECT request_seq, count(*) AS n, sum(amount) AS total FROM ledger_entries "
            "WHERE kind = 'usage' GROUP BY request_seq"
        )
    finally:
        await connection.close()
    return {"wallet": wallet, "requests": requests, "debits": debits}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_hundred_concurrent_calls_never_overspend(database_url: str, tmp_path: Path) -> None:
    stack = start_stack(database_url, 2, {}, "--latency-ms", "50")
    try:
        # $1000 per 1M tokens: a call of ~110 tokens costs ~$0.11; $1 pays for about 9.
        funded = fund(database_url, stack.bases[0], rate="1000", balance="1")
        funded.api.close()
        connection = funded.connection
        results = asyncio.run(forward_all(stack.bases, funded.token))
        forwarded = httpx.get(f"{stack.fake_url}/_fake/requests").json()["data"]
    finally:
        for server in stack.servers:
            stop_server(server)
        stack.fake.terminate()
        stack.fake.communicate(timeout=10)

    answered = {rid for status, rid, _ in results if status == 200}
    refused = {rid for status, rid, _ in results if status == 402}
    assert len(answered) + len(refused) == CALLS, sorted({s for s, _, _ in results})
    assert answered and refused, "the wallet should pay for some calls and not others"
    assert len(forwarded) == len(answered)  # a refused call is never sent upstream

    state = asyncio.run(stored_state(database_url, connection["connection_id"]))
    stored = {row["request_id"]: row for row in state["requests"]}
    assert set(stored) == answered  # nothing stored for a refused call
    assert all(row["status"] == "completed" for row in stored.values())
    debits = {row["request_seq"]: row for row in state["debits"]}
    charged = Decimal(0)
    for row in stored.values():
        debit = debits[row["seq"]]
        assert debit["n"] == 1  # billed exactly once
        assert -debit["total"] == row["total_wallet_cost"] > 0
        assert row["total_wallet_cost"] <= row["hold_amount"]
        charged += row["total_wallet_cost"]
    wallet = state["wallet"]
    assert wallet["held"] == 0
    assert wallet["balance"] == Decimal(1) - charged
    assert wallet["balance"] >= 0

    report = lava_cli("ledger", "check", "--json", "--database-url", database_url)
    assert report.returncode == 0, report.stdout + report.stderr
    assert json.loads(report.stdout)["problems"] == []
