"""`GET /v1/usage` on both databases: days in the zone of `start`'s offset."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from lava_server import timeutil
from tests.api.test_api_base import assert_error
from tests.metering.helpers import make_connection, make_product, report


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def at(self, text: str) -> None:
        self.now = datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(timeutil, "clock", clock)
    return clock


async def usage(client, merchant, **params):
    response = await client.get("/v1/usage", params=params, headers=merchant.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_days_in_india_standard_time(client, merchant, clock):
    product = await make_product(client, merchant.headers)  # $2 per 1M tokens
    connection = await make_connection(client, merchant.headers, balance="100")
    # IST is UTC+05:30: 18:29Z is 23:59 on 1 March there, 18:30Z is midnight of 2 March.
    for index, (moment, tokens) in enumerate(
        [
            ("2026-02-28T18:29:00Z", 1_000_000),  # 28 Feb 23:59 IST: before the range
            ("2026-02-28T18:30:00Z", 100_000),  # 1 Mar 00:00 IST
            ("2026-03-01T18:29:59Z", 200_000),  # 1 Mar 23:59:59 IST
            ("2026-03-01T18:30:00Z", 300_000),  # 2 Mar 00:00 IST
            ("2026-03-03T18:29:00Z", 400_000),  # 3 Mar 23:59 IST
            ("2026-03-03T18:30:00Z", 500_000),  # 4 Mar 00:00 IST: after the range
        ]
    ):
        clock.at(moment)
        response = await report(
            client, merchant.headers, connection, product, f"r{index}", input_tokens=tokens
        )
        assert response.status_code == 201

    body = await usage(
        client, merchant, start="2026-03-01T00:00:00+05:30", end="2026-03-03T12:00:00+05:30"
    )
    assert [item["date"] for item in body["items"]] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert body["items"][0]["start"] == "2026-02-28T18:30:00.000Z"
    assert body["items"][0]["end"] == "2026-03-01T18:30:00.000Z"
    # By hand: 1 Mar holds 100k + 200k tokens = $0.60 fee; 2 Mar 300k = $0.60; 3 Mar 400k = $0.80.
    assert [item["total_requests"] for item in body["items"]] == [2, 1, 1]
    assert [item["total_usage_tokens"] for item in body["items"]] == [300_000, 300_000, 400_000]
    assert [item["total_fee_amount"] for item in body["items"]] == [
        "0.6000000000",
        "0.6000000000",
        "0.8000000000",
    ]
    assert body["items"][0]["total_service_charge_amount"] == "0.0114000000"
    assert body["items"][0]["total_request_cost"] == "0.6114000000"
    assert body["items"][0]["total_wallet_cost"] == "0.6114000000"
    assert body["items"][0]["total_merchant_cost"] == "0.0000000000"
    assert body["items"][0]["total_usage_cost"] == "0.0000000000"
    assert body["items"][0]["total_gross_volume"] == "0.6114000000"
    assert body["items"][0]["total_net_volume"] == "0.6000000000"
    totals = body["totals"]
    assert totals["total_requests"] == 4
    assert totals["total_usage_tokens"] == 1_000_000
    assert totals["total_fee_amount"] == "2.0000000000"
    assert totals["total_request_cost"] == "2.0380000000"

    # The same moments in UTC fall on other days.
    utc = await usage(client, merchant, start="2026-03-01T00:00:00Z", end="2026-03-03T23:59:59Z")
    assert [item["total_requests"] for item in utc["items"]] == [2, 0, 2]


async def test_quarter_hour_offsets_and_zero_days(client, merchant, clock):
    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers, balance="100")
    # Nepal is UTC+05:45: 18:14Z is 23:59 there, 18:15Z the next midnight.
    for index, moment in enumerate(["2026-05-10T18:14:00Z", "2026-05-10T18:15:00Z"]):
        clock.at(moment)
        await report(client, merchant.headers, connection, product, f"n{index}", input_tokens=10)
    body = await usage(
        client, merchant, start="2026-05-09T00:00:00+05:45", end="2026-05-12T00:00:00+05:45"
    )
    assert [(i["date"], i["total_requests"]) for i in body["items"]] == [
        ("2026-05-09", 0),
        ("2026-05-10", 1),
        ("2026-05-11", 1),
        ("2026-05-12", 0),
    ]
    zero = body["items"][0]
    assert zero["total_fee_amount"] == "0.0000000000" and zero["total_usage_tokens"] == 0
    # A negative offset.
    body = await usage(
        client, merchant, start="2026-05-10T00:00:00-03:00", end="2026-05-10T23:00:00-03:00"
    )
    assert [(i["date"], i["total_requests"]) for i in body["items"]] == [("2026-05-10", 2)]


async def test_filters_and_the_metadata_path_agree_with_the_rollups(client, merchant, clock):
    chat = await make_product(client, merchant.headers, name="chat")
    image = await make_product(
        client,
        merchant.headers,
        name="image",
        tiers=[{"start": 0, "rate": "0.01", "type": "requests"}],
    )
    alice = await make_connection(client, merchant.headers, balance="1000")
    bob = await make_connection(client, merchant.headers, balance="1000")
    rng = random.Random(7)
    start = datetime(2026, 6, 1, tzinfo=timezone.utc)
    for index in range(60):
        clock.now = start + timedelta(minutes=rng.randrange(0, 5 * 24 * 60))
        connection = rng.choice([alice, bob])
        product = rng.choice([chat, image])
        response = await report(
            client,
            merchant.headers,
            connection,
            product,
            f"q{index}",
            input_tokens=rng.randrange(0, 50_000),
            output_tokens=rng.randrange(0, 50_000),
            metadata={"everyone": "yes", "user": connection["connection_id"][-4:]},
        )
        assert response.status_code == 201
    window = {"start": "2026-06-01T00:00:00+05:30", "end": "2026-06-06T00:00:00+05:30"}
    for filters in (
        {},
        {"connection_id": alice["connection_id"]},
        {"product_id": image["product_id"]},
        {"connection_id": bob["connection_id"], "product_id": chat["product_id"]},
    ):
        fast = await usage(client, merchant, **window, **filters)
        slow = await usage(
            client, merchant, **window, **filters, metadata_filters='[["everyone","yes"]]'
        )
        assert fast == slow, filters
    everything = await usage(client, merchant, **window)
    assert everything["totals"]["total_requests"] == 60
    alice_only = await usage(client, merchant, **window, connection_id=alice["connection_id"])
    by_metadata = await usage(
        client, merchant, **window, metadata_filters=f'{{"user": "{alice["connection_id"][-4:]}"}}'
    )
    assert alice_only == by_metadata
    listed = (
        await client.get("/v1/requests", params={"limit": "100"}, headers=merchant.headers)
    ).json()["data"]
    assert Decimal(everything["totals"]["total_wallet_cost"]) == sum(
        Decimal(r["total_wallet_cost"]) for r in listed
    )


async def test_end_defaults_to_now(client, merchant):
    today = datetime.now(timezone.utc).date()
    body = await usage(client, merchant, start=(today - timedelta(days=2)).isoformat())
    assert [item["date"] for item in body["items"]][-1] in (
        today.isoformat(),
        (today + timedelta(days=1)).isoformat(),
    )
    assert len(body["items"]) in (3, 4)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({}, "start"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-01-01T00:00:00+05:10"}, "start"),
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end"),
        ({"start": "2025-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}, "end"),
        ({"start": "2026-01-01", "end": "soon"}, "end"),
        ({"start": "2026-01-01", "metadata_filters": "{"}, "metadata_filters"),
    ],
)
async def test_bad_usage_queries_are_400(client, merchant, params, param):
    response = await client.get("/v1/usage", params=params, headers=merchant.headers)
    assert_error(response, 400, "invalid_request", param)


async def test_a_full_year_is_allowed(client, merchant):
    body = await usage(client, merchant, start="2025-01-01T00:00:00Z", end="2025-12-31T23:59:59Z")
    assert len(body["items"]) == 365
