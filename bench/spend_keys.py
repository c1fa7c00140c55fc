"""Benchmark: what a spend key adds to a forward call, against a forward token, in the same run.

One `lava serve` forwards to the fake provider (`lava fake-provider --latency-ms 20`). The same
chat-completion calls go through `/v1/forward` with two credentials that bill the same customer
under the same meter: the current era's forward token (`customer_id` + `meter_slug`), and a spend
key bound to that customer and meter with a daily spend limit, a request limit and a rate limit
(all far from reached, so every call is checked and counted against them). Rounds alternate
between the two so that drift hits both alike:

- concurrency 1, not streaming: latency p50/p99 of each, and what the spend key adds;
- concurrency 64, not streaming: sustained requests/s of each, and their ratio.

`lava ledger check` must be clean at the end, and the key's `current_requests` must equal the
calls it made.

    .venv/bin/python bench/spend_keys.py                     # both databases
    .venv/bin/python bench/spend_keys.py --databases sqlite --calls 200 --sustained 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from _common import database, dumps, free_port, lava, percentile, server

from lavapayments.forward_token import encode_forward_token
from proxy import FORWARD_PATH, _request, fake_provider, ms, sequential, sustained


def setup(database_url: str, port: int) -> tuple[str, str, str, dict[str, str]]:
    """A merchant, a meter and a well-funded customer: (forward token, spend key, key id, the
    merchant's API headers)."""
    merchant = json.loads(
        lava("merchants", "create", "Bench", "--json", "--database-url", database_url)
    )
    headers = {
        "Authorization": f"Bearer {merchant['secret_key']}",
        "Content-Type": "application/json",
    }

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = await _request(port, "POST", path, headers, dumps(body))
        assert status in (200, 201), answer
        return dict(json.loads(answer))

    async def make() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        meter = await post(
            "/v1/meters",
            {
                "name": "Chat",
                "rate_type": "fixed",
                "tier_type": "tokens_1m",
                "tiers": [{"start": "0", "rate": "2"}],
            },
        )
        customer = await post("/v1/test_helpers/connections", {"balance": "100000"})
        key = await post(
            "/v1/spend_keys",
            {
                "name": "bench",
                "customer_id": customer["connection_id"],
                "meter_slug": meter["meter_slug"],
                "spend_limit": {"amount": "100000", "cycle": "daily"},
                "request_limit": {"count": 10_000_000, "cycle": "daily"},
                "rate_limit": {"rpm": 1_000_000},
            },
        )
        return meter, customer, key

    meter, customer, key = asyncio.run(make())
    token = encode_forward_token(
        secret_key=merchant["secret_key"],
        customer_id=customer["connection_id"],
        meter_slug=meter["meter_slug"],
    )
    return token, key["key"], key["spend_key_id"], headers


def run(kind: str, args: argparse.Namespace) -> None:
    fake_port, lava_port = free_port(), free_port()
    env = {
        "LAVA_UPSTREAM_OPENAI": f"http://127.0.0.1:{fake_port}",
        "LAVA_PROVIDER_KEY_OPENAI": "sk-bench",
    }
    with database(kind) as url, fake_provider(fake_port), server(url, lava_port, 1, env) as _:
        token, spend_key, key_id, api = setup(url, lava_port)
        credentials = {
            "forward token": {"Authorization": f"Bearer {token}"},
            "spend key": {"Authorization": f"Bearer {spend_key}"},
        }
        for headers in credentials.values():
            headers["Content-Type"] = "application/json"

        async def measure() -> tuple[dict[str, list[float]], dict[str, float]]:
            for headers in credentials.values():  # warm up both paths
                await sequential(lava_port, FORWARD_PATH, headers, 50)
            latencies: dict[str, list[float]] = {name: [] for name in credentials}
            rounds = 5
            for _ in range(rounds):
                for name, headers in credentials.items():
                    latencies[name] += await sequential(
                        lava_port, FORWARD_PATH, headers, args.calls // rounds
                    )
            rates: dict[str, float] = {}
            for _ in range(2):  # alternate twice; keep the better of each
                for name, headers in credentials.items():
                    rate, statuses = await sustained(
                        lava_port, FORWARD_PATH, headers, args.sustained // 2, args.concurrency
                    )
                    assert statuses == {200: args.sustained // 2}, statuses
                    rates[name] = max(rates.get(name, 0.0), rate)
            return latencies, rates

        latencies, rates = asyncio.run(measure())
        status, shown = asyncio.run(
            _request(lava_port, "GET", f"/v1/spend_keys/{key_id}", api, b"")
        )
        report = json.loads(lava("ledger", "check", "--json", "--database-url", url))
    assert report["problems"] == [], report
    made = 50 + len(latencies["spend key"]) + 2 * (args.sustained // 2)
    assert status == 200 and json.loads(shown)["current_requests"] == made, shown
    token_p50 = percentile(latencies["forward token"], 0.5)
    key_p50 = percentile(latencies["spend key"], 0.5)
    token_p99 = percentile(latencies["forward token"], 0.99)
    key_p99 = percentile(latencies["spend key"], 0.99)
    print(f"\n== {kind}: forward token vs spend key (same customer and meter, same run)")
    print(f"   concurrency 1, not streaming ({len(latencies['spend key'])} calls each)")
    print(f"     forward token  p50 {ms(token_p50)}  p99 {ms(token_p99)}")
    print(f"     spend key      p50 {ms(key_p50)}  p99 {ms(key_p99)}")
    print(f"     spend key adds p50 {ms(key_p50 - token_p50)}  p99 {ms(key_p99 - token_p99)}")
    print(
        f"   concurrency {args.concurrency}, not streaming ({args.sustained // 2} calls, best of 2)"
    )
    print(
        f"     forward token {rates['forward token']:7.0f} req/s   spend key "
        f"{rates['spend key']:7.0f} req/s   ratio {rates['spend key'] / rates['forward token']:.2f}"
    )
    print(f"   ledger check: {report['entries']} entries, clean (key {key_id})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--calls", type=int, default=500, help="calls per latency series")
    parser.add_argument("--sustained", type=int, default=4000, help="calls at concurrency 64")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    for kind in args.databases.split(","):
        run(kind, args)


if __name__ == "__main__":
    main()
