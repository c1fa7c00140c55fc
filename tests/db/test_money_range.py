"""The range of money, the same on both databases (`pricing.money.MAX_AMOUNT`): what the API accepts
is exact to 10 places, what lies past it is a 400 naming the field and changes nothing, and sums of
many amounts (usage roll-ups, the ledger check) are exact at any size.

SQLite keeps an amount as a 64-bit count of 1e-10 dollars: about $922M. The issue's reproduction:
funding 99,999,999 then 922,337,203 stored a float and broke `lava ledger check`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, update

from lava_server.db.engine import Database
from lava_server.db.models import LedgerEntry, Request, TierUsage, UsageBucket
from lava_server.merchants import service as merchants
from lava_server.pricing import MAX_AMOUNT, format_money
from lava_server.pricing.config import TIER_POSITION_CAP
from lava_server.wallets.service import check as ledger_check
from tests.api.test_api_base import assert_error
from tests.conftest import MerchantKey
from tests.metering.helpers import balance_of, make_connection, make_product, report

UNIT = Decimal("0.0000000001")
SINCE = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()


def money(amount: Fraction) -> Decimal:
    """An exact amount rounded to 10 places, ties to even (`docs/pricing.md`), independently."""
    return Decimal(round(amount * 10**10)).scaleb(-10)


INT64_UNITS = Decimal(2**63) * UNIT  # $922,337,203.6854775808: SQLite's integers stop here


async def fund(client, headers, connection_id: str, amount: str) -> httpx.Response:
    return await client.post(
        f"/v1/test_helpers/connections/{connection_id}/fund",
        json={"amount": amount},
        headers=headers,
    )


async def count(db: Database, model: type) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_the_issues_reproduction(client, db, merchant):
    connection = await make_connection(client, merchant.headers, balance="0")
    cid = connection["connection_id"]
    error = assert_error(
        await fund(client, merchant.headers, cid, "99999999999"), 400, "invalid_request", "amount"
    )
    assert "100000000" in error["message"]
    assert (await fund(client, merchant.headers, cid, "99999999")).status_code == 200
    response = await fund(client, merchant.headers, cid, "922337203")
    assert_error(response, 400, "invalid_request", "amount")
    assert await balance_of(client, merchant.headers, cid) == Decimal("99999999")
    assert (await ledger_check(db)).problems == []


async def test_a_wallet_holds_up_to_the_limit_exactly(client, db, merchant):
    connection = await make_connection(client, merchant.headers, balance="99999999.9999999998")
    cid = connection["connection_id"]
    assert (await fund(client, merchant.headers, cid, "0.0000000002")).status_code == 200
    response = await client.get(f"/v1/connections/{cid}", headers=merchant.headers)
    assert response.json()["wallet"]["balance"] == "100000000.0000000000"
    error = assert_error(
        await fund(client, merchant.headers, cid, "0.0000000001"), 400, "invalid_request", "amount"
    )
    assert "at most 0.0000000000 more" in error["message"]
    assert_error(
        await client.post(
            "/v1/test_helpers/connections",
            json={"balance": "100000000.0000000001"},
            headers=merchant.headers,
        ),
        400,
        "invalid_request",
        "balance",
    )
    assert (await ledger_check(db)).problems == []


@pytest.mark.parametrize(
    ("tiers", "param"),
    [
        ([{"start": 0, "rate": "100000000.0000000001", "type": "requests"}], "tiers[0].rate"),
        (
            [
                {"start": 0, "rate": "1", "type": "requests"},
                {"start": 10**15 + 1, "rate": "1", "type": "requests"},
            ],
            "tiers[1].start",
        ),
    ],
)
async def test_products_past_the_range_are_400(client, db, merchant, tiers, param):
    response = await client.post(
        "/v1/products", json={"name": "Too much", "tiers": tiers}, headers=merchant.headers
    )
    assert_error(response, 400, "invalid_request", param)


async def test_a_report_costing_more_than_one_request_may_is_400(client, db, merchant):
    connection = await make_connection(client, merchant.headers, balance="100000000")
    product = await make_product(
        client,
        merchant.headers,
        overdraft="allow",
        tiers=[{"start": 0, "rate": "100000000", "type": "tokens_1m"}],
    )
    response = await report(
        client, merchant.headers, connection, product, "r1", input_tokens=10, output_tokens=10**6
    )
    error = assert_error(response, 400, "invalid_request", "output_tokens")
    assert "more than the most one request may cost" in error["message"]
    response = await report(
        client, merchant.headers, connection, product, "r2", input_tokens=10**15 + 1
    )
    assert_error(response, 400, "invalid_request", "input_tokens")
    assert await count(db, Request) == 0
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == MAX_AMOUNT


async def test_an_overdraft_stops_at_minus_the_limit(client, db, merchant):
    connection = await make_connection(client, merchant.headers, balance="0")
    product = await make_product(
        client,
        merchant.headers,
        overdraft="allow",
        service_charge_payer="merchant",
        tiers=[{"start": 0, "rate": "60000000", "type": "requests"}],
    )
    assert (await report(client, merchant.headers, connection, product, "r1")).status_code == 201
    response = await report(client, merchant.headers, connection, product, "r2")
    assert_error(response, 402, "insufficient_balance")
    balance = await balance_of(client, merchant.headers, connection["connection_id"])
    assert balance == Decimal("-60000000")
    assert (await ledger_check(db)).problems == []


async def test_usage_totals_past_64_bits_are_exact(client, db, merchant):
    """Twelve requests of $90,000,000 each in one quarter hour: the merchant's roll-up holds
    $1,080,000,000, past SQLite's 64-bit integers."""
    product = await make_product(
        client,
        merchant.headers,
        service_charge_payer="merchant",
        tiers=[{"start": 0, "rate": "90000000.0000000001", "type": "requests"}],
    )
    for n in range(12):
        connection = await make_connection(client, merchant.headers, balance="100000000")
        response = await report(client, merchant.headers, connection, product, f"r{n}")
        assert response.status_code == 201, response.text
    fee = Decimal("90000000.0000000001")
    service = money(Fraction(fee) * Fraction("0.019"))
    expected = {
        "total_requests": 12,
        "total_fee_amount": format_money(12 * fee),
        "total_service_charge_amount": format_money(12 * service),
        "total_request_cost": format_money(12 * (fee + service)),
        "total_wallet_cost": format_money(12 * fee),
        "total_merchant_cost": format_money(12 * service),
    }
    assert 12 * fee > INT64_UNITS
    response = await client.get("/v1/usage", params={"start": SINCE}, headers=merchant.headers)
    assert response.status_code == 200, response.text
    totals = response.json()["totals"]
    assert {key: totals[key] for key in expected} == expected
    assert (await ledger_check(db)).problems == []


async def test_usage_totals_from_requests_past_64_bits_are_exact(client, db, merchant):
    product = await make_product(
        client, merchant.headers, tiers=[{"start": 0, "rate": "90000000", "type": "requests"}]
    )
    for n in range(11):
        connection = await make_connection(client, merchant.headers, balance="100000000")
        response = await report(
            client, merchant.headers, connection, product, f"r{n}", metadata={"batch": "big"}
        )
        assert response.status_code == 201, response.text
    response = await client.get(
        "/v1/usage",
        params={"start": SINCE, "metadata_filters": '[["batch","big"]]'},
        headers=merchant.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["totals"]["total_fee_amount"] == format_money(11 * Decimal(90000000))


@pytest.mark.ledger_tampered
async def test_the_ledger_check_sums_past_64_bits(db, merchant):
    """A tampered transaction whose entries add up past 2^63 units is reported, exactly."""
    async with db.write() as session:
        await session.execute(
            insert(LedgerEntry),
            [
                {
                    "txn_id": "tampered",
                    "account": f"merchant:{merchant.merchant_id}",
                    "wallet_id": None,
                    "amount": Decimal("900000000"),
                    "kind": "test",
                    "livemode": False,
                    "created_at": datetime.now(timezone.utc),
                }
            ]
            * 2,
        )
    report_ = await ledger_check(db)
    assert [(p.kind, p.subject, p.found) for p in report_.problems] == [
        ("unbalanced_txn", "tampered", Decimal("1800000000.0000000000"))
    ]


async def test_tier_positions_stop_past_every_tier(client, db, merchant):
    connection = await make_connection(client, merchant.headers, balance="2000000")
    product = await make_product(
        client,
        merchant.headers,
        tiers=[
            {"start": 0, "rate": "5", "type": "tokens_1m"},
            {"start": 10**15, "rate": "1", "type": "tokens_1m"},
        ],
    )
    assert (
        await report(client, merchant.headers, connection, product, "r1", input_tokens=1)
    ).status_code == 201
    async with db.write() as session:  # as if the connection had used 2^63 - 10 units already
        await session.execute(update(TierUsage).values(units=2**63 - 10))
    response = await report(
        client, merchant.headers, connection, product, "r2", input_tokens=10**12
    )
    assert response.status_code == 201, response.text
    fee = response.json()["fee"]
    assert fee["amount"] == "1000000.0000000000"  # all of it at the last tier's $1 per 1M
    assert [part["tier"]["start"] for part in fee["breakdown"]] == [10**15]
    async with db.read() as session:
        units = (await session.execute(select(TierUsage.units))).scalar_one()
    assert units == TIER_POSITION_CAP
    assert (await ledger_check(db)).problems == []


# -- property: any sequence near the limits stays exact on both databases ----------------------

near_limit_amounts = st.one_of(
    st.decimals(min_value=0, max_value=MAX_AMOUNT, places=10),
    st.decimals(min_value=MAX_AMOUNT - 1, max_value=MAX_AMOUNT + 1, places=10),
    st.sampled_from(
        ["0.0000000001", "922337203.6854775807", "922337203.6854775808", "99999999999"]
    ),
).map(lambda value: format_money(Decimal(value)))

operations = st.lists(
    st.one_of(
        st.tuples(st.just("fund"), near_limit_amounts),
        st.tuples(st.just("report"), st.integers(0, 10**15), st.sampled_from([0, 1, 2])),
    ),
    min_size=1,
    max_size=6,
)


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=operations)
async def test_money_near_the_limits_stays_exact(client, db, ops):
    key = await merchants.create_merchant(db, "Limits", livemode=False)
    merchant = MerchantKey(key.merchant_id, key.secret_key)
    connection = await make_connection(client, merchant.headers, balance="0")
    cid = connection["connection_id"]
    products = [
        await make_product(
            client,
            merchant.headers,
            overdraft="allow",
            tiers=[{"start": 0, "rate": rate, "type": "tokens_1m"}],
        )
        for rate in ("99999999.9999999999", "0.0000000001", "37")
    ]
    balance = Decimal(0)
    fees = Decimal(0)
    for n, op in enumerate(ops):
        if op[0] == "fund":
            amount = Decimal(op[1])
            response = await fund(client, merchant.headers, cid, op[1])
            if 0 < amount <= MAX_AMOUNT and balance + amount <= MAX_AMOUNT:
                assert response.status_code == 200, response.text
                balance += amount
            else:
                assert_error(response, 400, "invalid_request", "amount")
        else:
            _, tokens, index = op
            response = await report(
                client, merchant.headers, connection, products[index], f"r{n}", input_tokens=tokens
            )
            rate = Fraction(products[index]["tiers"][0]["rate"])
            fee = money(rate * tokens / 1_000_000)
            cost = fee + money(Fraction(fee) * Fraction("0.019"))
            if cost > MAX_AMOUNT:
                assert_error(response, 400, "invalid_request", "input_tokens")
            elif balance - cost < -MAX_AMOUNT:
                assert_error(response, 402, "insufficient_balance")
            else:
                assert response.status_code == 201, response.text
                assert Decimal(response.json()["total_wallet_cost"]) == cost
                balance -= cost
                fees += fee
        assert await balance_of(client, merchant.headers, cid) == balance
    usage = await client.get("/v1/usage", params={"start": SINCE}, headers=merchant.headers)
    assert Decimal(usage.json()["totals"]["total_fee_amount"]) == fees
    assert (await ledger_check(db)).problems == []


async def test_usage_sums_in_python_only_when_sqlite_could_not_be_exact(
    client, db, merchant, monkeypatch
):
    """SQLite's own SUM() answers ordinary usage (Python's sum is ~7x slower); past 64 bits the
    answer is still exact, through the Python sum."""
    from lava_server.db import sums

    steps = 0
    real_step = sums.SqliteSum.step

    def counted(self, value):
        nonlocal steps
        steps += 1
        real_step(self, value)

    monkeypatch.setattr(sums.SqliteSum, "step", counted)
    connection = await make_connection(client, merchant.headers, balance="100")
    product = await make_product(client, merchant.headers)
    assert (
        await report(client, merchant.headers, connection, product, "r1", input_tokens=10)
    ).status_code == 201
    usage = await client.get("/v1/usage", params={"start": SINCE}, headers=merchant.headers)
    assert usage.json()["totals"]["total_requests"] == 1
    assert steps == 0
    async with db.write() as session:  # a roll-up past 64 bits, as twelve $90M requests make
        await session.execute(update(UsageBucket).values(total_fee_amount=Decimal("1080000000")))
    usage = await client.get("/v1/usage", params={"start": SINCE}, headers=merchant.headers)
    assert usage.json()["totals"]["total_fee_amount"] == "1080000000.0000000000"
    assert steps > 0 or not db.is_sqlite
