"""Spend-key limits under concurrency (issue 14): two `lava serve` processes on one PostgreSQL,
a `lava fake-provider`, and calls that all start at once. A key with a $0.05 daily spend limit
takes 200 plain and streamed calls: its spend ends at or under $0.05, no call is charged past it,
and what the key counts is exactly what its calls were charged. A key with a request limit takes
500 calls: exactly the limit go through. `lava ledger check` is clean after both."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
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

SPEND_CALLS = 200
REQUEST_CALLS = 500
REQUEST_LIMIT = 37
SPEND_LIMIT = Decimal("0.05")


async def call_all(bases: list[str], key: str, calls: int, path: str) -> list[tuple[int, bool]]:
    """(status, streamed) of each call, all started at once, spread over the servers."""

    async def one(index: int, http: httpx.AsyncClient) -> tuple[int, bool]:
        stream = index % 2 == 1
        body = {
            "model": "gpt-4o-mini",
            "max_tokens": 100,
            "stream": stream,
            "messages": [{"role": "user", "content": f"call {index} fake-tokens-100"}],
        }
        response = await http.post(
            bases[index % len(bases)] + path,
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        )
        if response.status_code == 200 and stream:
            assert response.text.rstrip().endswith("data: [DONE]")
        return response.status_code, stream

    limits = httpx.Limits(max_connections=calls, max_keepalive_connections=calls)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        return await asyncio.gather(*(one(i, http) for i in range(calls)))


async def key_rows(database_url: str, key_id: str) -> dict[str, Any]:
    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        key = await connection.fetchrow("SELECT * FROM spend_keys WHERE id = $1", key_id)
        requests = await connection.fetch(
            "SELECT status, total_wallet_cost, hold_amount FROM requests WHERE spend_key_id = $1",
            key_id,
        )
    finally:
        await connection.close()
    return {"key": key, "requests": requests}


def new_key(api: httpx.Client, funded: Any, **limits: Any) -> dict[str, Any]:
    response = api.post(
        "spend_keys",
        json={
            "name": "agent",
            "customer_id": funded.connection["connection_id"],
            "meter_slug": funded.product["product_id"],
            **limits,
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_no_number_of_concurrent_calls_passes_a_keys_limits(
    database_url: str, tmp_path: Path
) -> None:
    stack = start_stack(database_url, 2, {}, "--latency-ms", "20")
    try:
        # $20 per 1M tokens: a call of ~110 tokens costs ~$0.0022; $0.05 pays for about 20.
        funded = fund(database_url, stack.bases[0], rate="20", balance="50")
        spend_key = new_key(
            funded.api, funded, spend_limit={"amount": str(SPEND_LIMIT), "cycle": "daily"}
        )
        count_key = new_key(
            funded.api, funded, request_limit={"count": REQUEST_LIMIT, "cycle": "daily"}
        )
        # The key as an OpenAI API key on our own `/v1/chat/completions`, as a client would.
        spent = asyncio.run(
            call_all(stack.bases, spend_key["key"], SPEND_CALLS, "/v1/chat/completions")
        )
        counted = asyncio.run(
            call_all(stack.bases, count_key["key"], REQUEST_CALLS, "/v1/chat/completions")
        )
        shown = funded.api.get(f"spend_keys/{spend_key['spend_key_id']}").json()
        funded.api.close()
        forwarded = httpx.get(f"{stack.fake_url}/_fake/requests").json()["data"]
    finally:
        for server in stack.servers:
            stop_server(server)
        stack.fake.terminate()
        stack.fake.communicate(timeout=10)

    statuses = Counter(status for status, _ in spent)
    assert set(statuses) == {200, 402}, statuses  # some paid, the rest refused for the limit
    state = asyncio.run(key_rows(database_url, spend_key["spend_key_id"]))
    requests = state["requests"]
    assert len(requests) == statuses[200]  # nothing stored for a refused call
    assert all(row["status"] == "completed" for row in requests), requests
    charged = sum((row["total_wallet_cost"] for row in requests), Decimal(0))
    key = state["key"]
    assert key["current_spend"] == key["total_spend"] == charged <= SPEND_LIMIT, (key, statuses)
    assert Decimal(shown["current_spend"]) == charged
    assert key["current_requests"] == statuses[200]
    assert all(row["total_wallet_cost"] <= row["hold_amount"] for row in requests)

    print(f"spend limit: {statuses[200]} of {SPEND_CALLS} calls paid, {charged} of {SPEND_LIMIT}")
    paid = Counter(stream for status, stream in spent + counted if status == 200)
    # Which kind gets the allowance first is the scheduler's choice (often all of one kind):
    # what holds whatever it chose is checked above and below.
    print(f"paid calls: {paid[False]} plain, {paid[True]} streamed")
    count_statuses = Counter(status for status, _ in counted)
    assert count_statuses == {200: REQUEST_LIMIT, 429: REQUEST_CALLS - REQUEST_LIMIT}, (
        count_statuses
    )
    count_state = asyncio.run(key_rows(database_url, count_key["spend_key_id"]))
    assert count_state["key"]["current_requests"] == REQUEST_LIMIT
    assert len(count_state["requests"]) == REQUEST_LIMIT
    assert len(forwarded) == statuses[200] + REQUEST_LIMIT  # a refused call is never sent

    report = lava_cli("ledger", "check", "--json", "--database-url", database_url)
    assert report.returncode == 0, report.stdout + report.stderr
    assert json.loads(report.stdout)["problems"] == []
