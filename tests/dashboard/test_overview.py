"""The Overview's figures on both databases, against the API's own answers: the rankings over
settled days (kept by the process) and today's (read each time) add up to `GET /v1/usage`'s
per customer; a window's ranking never counts a day outside it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from lava_server import timeutil
from lava_server.api.auth import Caller
from lava_server.usage import service as usage
from tests.dashboard.conftest import signed_in
from tests.metering.helpers import make_connection, make_product, report


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(datetime.now(timezone.utc).replace(microsecond=0))
    monkeypatch.setattr(timeutil, "clock", clock)
    return clock


async def _fees(client, merchant, customer_id: str, start: str) -> Decimal:
    answer = await client.get(
        "/v1/usage",
        params={"start": start, "connection_id": customer_id},
        headers=merchant.headers,
    )
    assert answer.status_code == 200, answer.text
    return Decimal(answer.json()["totals"]["total_fee_amount"])


async def test_rankings_over_settled_days_and_today_match_the_usage_api(
    client, merchant, db, clock
):
    h = merchant.headers
    product = await make_product(client, h)
    ada = await make_connection(client, h, balance="100", reference_id="ada")
    bob = await make_connection(client, h, balance="100", reference_id="bob")
    today = clock.now
    # Ada spends 3 and 1 days ago, Bob 2 days ago and today, and 40 days ago (outside 30 days).
    plan = [(ada, 3, 400_000), (ada, 1, 300_000), (bob, 2, 200_000), (bob, 0, 150_000)]
    plan.append((bob, 40, 5_000_000))
    for n, (who, days_ago, tokens) in enumerate(plan):
        clock.now = today - timedelta(days=days_ago)
        answer = await report(client, h, who, product, f"r{n}", input_tokens=tokens)
        assert answer.status_code == 201, answer.text
    clock.now = today
    caller = Caller(merchant.merchant_id, False, "test")
    start_day = datetime.combine(
        (today - timedelta(days=29)).date(), datetime.min.time(), timezone.utc
    )
    end = start_day + timedelta(days=30)
    start = start_day.date().isoformat()
    expected = {
        ada["connection_id"]: await _fees(client, merchant, ada["connection_id"], start),
        bob["connection_id"]: await _fees(client, merchant, bob["connection_id"], start),
    }
    assert expected[ada["connection_id"]] == Decimal("1.4")  # 700k tokens at $2 / 1M
    assert expected[bob["connection_id"]] == Decimal("0.7")
    for _ in range(2):  # read, then from what the process kept
        ranked = await usage.top(db, caller, start_day, end, by="connection")
        assert [row.id for row in ranked] == [ada["connection_id"], bob["connection_id"]]
        assert {row.id: row.total_fee_amount for row in ranked} == expected
        assert [row.total_requests for row in ranked] == [2, 2]
    meters = await usage.top(db, caller, start_day, end, by="product")
    assert [(m.id, m.total_fee_amount) for m in meters] == [(product["product_id"], Decimal("2.1"))]
    # Today's usage is read each time: a new request shows at once.
    more = await report(client, h, bob, product, "r-late", input_tokens=1_000_000)
    assert more.status_code == 201
    ranked = await usage.top(db, caller, start_day, end, by="connection")
    assert [row.id for row in ranked] == [bob["connection_id"], ada["connection_id"]]
    assert ranked[0].total_fee_amount == Decimal("2.7")


async def test_the_overview_page_shows_the_api_figures(client, merchant, admin):
    h = merchant.headers
    product = await make_product(client, h)
    ada = await make_connection(client, h, balance="100", reference_id="ada")
    answer = await report(client, h, ada, product, "one", input_tokens=1_000_000)
    assert answer.status_code == 201
    await signed_in(client, admin)
    page = await client.get("/dashboard/test/?days=7&compare=1")
    assert page.status_code == 200
    assert re.search(r"Fees \(revenue\)</span>\s*<span class=\"figure-value\">\$2.00", page.text)
    assert "previous 7 days: $0.00" in page.text
    assert ">ada</a>" in page.text  # top customer
    assert "No requests in the last" not in page.text
    live = await client.get("/dashboard/live/")
    assert "No requests in the last 30 days" in live.text
    assert "curl http://lava.test/v1/requests" in live.text
    # Unknown periods fall back to 30 days; every period's chart has its days.
    for days in ("7", "30", "90", "12", "x"):
        shown = await client.get(f"/dashboard/test/?days={days}")
        assert shown.status_code == 200
        expected = int(days) if days in ("7", "30", "90") else 30
        assert shown.text.count('<tr><th scope="row">') == 3 * expected
