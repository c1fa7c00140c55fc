"""`POST/GET /v1/requests` and the test helpers, on both databases: the pricing vectors through
the API (`docs/pricing.md`), exactly-once charging, validation, and the ledger."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from lava_server.wallets.service import check as ledger_check
from tests.api.test_api_base import assert_error
from tests.metering.helpers import balance_of, make_connection, make_product, report


async def test_vector_1_through_the_api(client, merchant, db):
    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers, balance="1")
    response = await report(
        client, merchant.headers, connection, product, "r-1", input_tokens=500, output_tokens=200
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["request_id"] == "r-1"
    assert body["status"] == "completed"
    assert body["connection_id"] == connection["connection_id"]
    assert body["product_id"] == product["product_id"]
    assert body["provider"] == "merchant"
    assert body["provider_key_type"] == "unmanaged"
    assert body["endpoint"] == "POST /v1/requests"
    assert body["fee"] == {
        "amount": "0.0014000000",
        "rate_type": "fixed",
        "token_basis": "input+output",
        "breakdown": [
            {
                "tier": {"start": 0, "rate": "2", "type": "tokens_1m"},
                "tokens": 700,
                "characters": 0,
                "seconds": 0,
                "cost": "0.0014000000",
            }
        ],
    }
    assert body["service_charge"] == {"amount": "0.0000266000", "payer": "wallet"}
    usage = body["model_usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (500, 200, 700)
    assert (usage["input_cost"], usage["output_cost"], usage["total_cost"]) == ("0.0000000000",) * 3
    assert usage["payer"] == "wallet"
    assert body["total_request_cost"] == "0.0014266000"
    assert body["total_wallet_cost"] == "0.0014266000"
    assert body["total_merchant_cost"] == "0.0000000000"
    assert body["metadata"] == {}
    assert body["created_at"].endswith("Z")
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == Decimal(
        "0.9985734000"
    )
    fetched = await client.get("/v1/requests/r-1", headers=merchant.headers)
    assert fetched.json() == body
    assert (await ledger_check(db)).problems == []


@pytest.mark.parametrize(
    ("product_fields", "counts", "fee", "service_charge"),
    [
        (
            {"token_basis": "output"},
            {"input_tokens": 500, "output_tokens": 200},
            "0.0004000000",
            "0.0000076000",
        ),
        (
            {"tiers": [{"start": 0, "rate": "0.006", "type": "minutes"}]},
            {"input_seconds": 90},
            "0.0090000000",
            "0.0001710000",
        ),
        (
            {"tiers": [{"start": 0, "rate": "0.01", "type": "requests"}]},
            {},
            "0.0100000000",
            "0.0001900000",
        ),
        (
            {"tiers": [{"start": 0, "rate": "30", "type": "characters_1m"}]},
            {"output_characters": 1000},
            "0.0300000000",
            "0.0005700000",
        ),
    ],
)
async def test_vectors_2_5_6_7(client, merchant, product_fields, counts, fee, service_charge):
    product = await make_product(client, merchant.headers, **product_fields)
    connection = await make_connection(client, merchant.headers)
    body = (await report(client, merchant.headers, connection, product, "r", **counts)).json()
    assert body["fee"]["amount"] == fee
    assert body["service_charge"]["amount"] == service_charge
    spent = Decimal(fee) + Decimal(service_charge)
    assert body["total_wallet_cost"] == f"{spent:.10f}"
    assert (
        await balance_of(client, merchant.headers, connection["connection_id"])
        == Decimal(10) - spent
    )


async def test_vector_3_graduated_tiers_accumulate_per_connection(client, merchant, db):
    tiers = [
        {"start": 0, "rate": "5", "type": "tokens_1m"},
        {"start": 1000000, "rate": "3", "type": "tokens_1m"},
        {"start": 10000000, "rate": "1", "type": "tokens_1m"},
    ]
    product = await make_product(client, merchant.headers, tiers=tiers, overdraft="allow")
    connection = await make_connection(client, merchant.headers, balance="100")
    first = await report(client, merchant.headers, connection, product, "a", output_tokens=900_000)
    assert first.json()["fee"]["amount"] == "4.5000000000"
    second = (
        await report(client, merchant.headers, connection, product, "b", output_tokens=200_000)
    ).json()
    assert [(e["tier"]["start"], e["tokens"], e["cost"]) for e in second["fee"]["breakdown"]] == [
        (0, 100_000, "0.5000000000"),
        (1_000_000, 100_000, "0.3000000000"),
    ]
    assert second["fee"]["amount"] == "0.8000000000"
    third = (
        await report(client, merchant.headers, connection, product, "c", output_tokens=3_900_000)
    ).json()
    fees = sum(Decimal(r["fee"]["amount"]) for r in (first.json(), second, third))
    assert fees == Decimal("17.0000000000")  # 5M tokens: 1M × $5 + 4M × $3

    # Another connection starts at tier 0 again.
    other = await make_connection(client, merchant.headers)
    fresh = (
        await report(client, merchant.headers, other, product, "d", output_tokens=200_000)
    ).json()
    assert fresh["fee"]["amount"] == "1.0000000000"
    assert (await ledger_check(db)).problems == []


async def test_vector_8_overdraft_block_and_allow(client, merchant, db):
    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers, balance="0.001")
    blocked = await report(
        client, merchant.headers, connection, product, "big", input_tokens=500, output_tokens=200
    )
    assert_error(blocked, 402, "insufficient_balance")
    assert_error(await client.get("/v1/requests/big", headers=merchant.headers), 404, "not_found")
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == Decimal(
        "0.001"
    )

    await client.put(
        f"/v1/products/{product['product_id']}",
        json={"overdraft": "allow"},
        headers=merchant.headers,
    )
    allowed = await report(
        client, merchant.headers, connection, product, "big", input_tokens=500, output_tokens=200
    )
    assert allowed.status_code == 201
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == Decimal(
        "-0.0004266000"
    )
    assert (await ledger_check(db)).problems == []


async def test_same_request_id_charges_once_and_different_counts_conflict(client, merchant):
    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers)
    first = await report(client, merchant.headers, connection, product, "dup", input_tokens=1000)
    again = await report(client, merchant.headers, connection, product, "dup", input_tokens=1000)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    conflict = await report(client, merchant.headers, connection, product, "dup", input_tokens=1001)
    assert_error(conflict, 409, "conflict", "request_id")
    expected = Decimal(10) - Decimal(first.json()["total_wallet_cost"])
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == expected
    listed = (await client.get("/v1/requests", headers=merchant.headers)).json()["data"]
    assert len(listed) == 1


async def test_concurrent_identical_request_ids_charge_exactly_once(client, merchant, db):
    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers)
    responses = await asyncio.gather(
        *(
            report(client, merchant.headers, connection, product, "burst", input_tokens=123_456)
            for _ in range(20)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201], statuses
    assert all(r.json() == responses[0].json() for r in responses)
    cost = Decimal(responses[0].json()["total_wallet_cost"])
    assert (
        await balance_of(client, merchant.headers, connection["connection_id"])
        == Decimal(10) - cost
    )
    report_ = await ledger_check(db)
    assert report_.problems == []
    assert (
        report_.entries == 2 + 3
    )  # funding: wallet and source; the request: wallet, fee, platform


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"request_id": ""}, "request_id"),
        ({"request_id": "x" * 256}, "request_id"),
        ({"request_id": None}, "request_id"),
        ({"connection_secret": ""}, "connection_secret"),
        ({"product_secret": 5}, "product_secret"),
        ({"input_tokens": -1}, "input_tokens"),
        ({"output_tokens": 1.5}, "output_tokens"),
        ({"input_characters": "10"}, "input_characters"),
        ({"output_characters": True}, "output_characters"),
        ({"input_seconds": 10**16}, "input_seconds"),
        ({"output_seconds": None}, "output_seconds"),
        ({"metadata": {"bad key": "v"}}, "metadata"),
        ({"metadata": {"k": ""}}, "metadata"),
        ({"metadata": {"k": "v" * 256}}, "metadata"),
        ({"metadata": {f"k{i}": "v" for i in range(101)}}, "metadata"),
        ({"metadata": {"k": 1}}, "metadata.k"),
        ({"metadata": ["k", "v"]}, "metadata"),
        ({"input_token": 5}, "input_token"),
    ],
)
async def test_each_bad_field_is_a_400_naming_it(client, merchant, change, param):
    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers)
    body = {
        "request_id": "r",
        "connection_secret": connection["connection_secret"],
        "product_secret": product["product_secret"],
        "input_tokens": 10,
        **change,
    }
    response = await client.post("/v1/requests", json=body, headers=merchant.headers)
    assert_error(response, 400, "invalid_request", param)
    assert (await client.get("/v1/requests", headers=merchant.headers)).json()["data"] == []
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == Decimal(10)


async def test_secrets_must_belong_to_the_caller(client, db, merchant):
    from lava_server.merchants import service as merchants

    other = await merchants.create_merchant(db, "Other", livemode=False)
    other_headers = {"Authorization": f"Bearer {other.secret_key}"}
    live = await merchants.create_key(db, merchant.merchant_id, livemode=True)
    live_headers = {"Authorization": f"Bearer {live.secret_key}"}
    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers)
    theirs = await make_product(client, other_headers)

    wrong = {**connection, "connection_secret": "cons_test_nope"}
    assert_error(
        await report(client, merchant.headers, wrong, product, "a"),
        401,
        "unauthorized",
        "connection_secret",
    )
    assert_error(
        await report(client, other_headers, connection, theirs, "b"),
        401,
        "unauthorized",
        "connection_secret",
    )
    assert_error(
        await report(client, live_headers, connection, product, "c"),
        401,
        "unauthorized",
        "connection_secret",
    )
    assert_error(
        await report(client, merchant.headers, connection, theirs, "d"),
        404,
        "not_found",
        "product_secret",
    )

    await client.delete(f"/v1/products/{product['product_id']}", headers=merchant.headers)
    assert_error(
        await report(client, merchant.headers, connection, product, "e"),
        404,
        "not_found",
        "product_secret",
    )
    product = await make_product(client, merchant.headers)
    assert (await report(client, merchant.headers, connection, product, "f")).status_code == 201
    await client.delete(f"/v1/connections/{connection['connection_id']}", headers=merchant.headers)
    assert_error(
        await report(client, merchant.headers, connection, product, "g"), 401, "unauthorized"
    )
    # the wallet and its history stay:
    assert (await client.get("/v1/requests/f", headers=merchant.headers)).status_code == 200


async def test_list_filters_and_pagination(client, merchant):
    chat = await make_product(client, merchant.headers, name="chat")
    image = await make_product(client, merchant.headers, name="image")
    alice = await make_connection(client, merchant.headers, reference_id="alice")
    bob = await make_connection(client, merchant.headers, reference_id="bob")
    plan = [
        (alice, chat, {"user_id": "1", "feature": "chat"}),
        (alice, image, {"user_id": "1", "feature": "image"}),
        (bob, chat, {"user_id": "2", "feature": "chat"}),
        (bob, chat, {"user_id": "2"}),
        (alice, chat, {}),
    ]
    for index, (connection, product, metadata) in enumerate(plan):
        response = await report(
            client,
            merchant.headers,
            connection,
            product,
            f"r{index}",
            input_tokens=10,
            metadata=metadata,
        )
        assert response.status_code == 201

    async def ids(**params):
        response = await client.get("/v1/requests", params=params, headers=merchant.headers)
        assert response.status_code == 200, response.text
        return [item["request_id"] for item in response.json()["data"]]

    assert await ids() == ["r4", "r3", "r2", "r1", "r0"]
    assert await ids(connection_id=alice["connection_id"]) == ["r4", "r1", "r0"]
    assert await ids(product_id=image["product_id"]) == ["r1"]
    assert await ids(connection_id=bob["connection_id"], product_id=chat["product_id"]) == [
        "r3",
        "r2",
    ]
    assert await ids(metadata_filters='[["user_id","2"]]') == ["r3", "r2"]
    assert await ids(metadata_filters='[["user_id","2"],["feature","chat"]]') == ["r2"]
    assert await ids(metadata_filters='{"feature": "chat"}') == ["r2", "r0"]
    assert await ids(metadata_filters='[["user_id","3"]]') == []
    assert await ids(limit="2") == ["r4", "r3"]
    assert await ids(limit="2", cursor="r3") == ["r2", "r1"]
    assert await ids(limit="2", cursor="r1") == ["r0"]
    page = (
        await client.get("/v1/requests", params={"limit": "2"}, headers=merchant.headers)
    ).json()
    assert page["has_more"] is True and page["next_cursor"] == "r3"

    for bad in (
        "nope",
        "[1]",
        '[["a"]]',
        '[["a", 1]]',
        '{"a": {"b": 1}}',
        '"x"',
        '[["bad key","v"]]',
    ):
        response = await client.get(
            "/v1/requests", params={"metadata_filters": bad}, headers=merchant.headers
        )
        assert_error(response, 400, "invalid_request", "metadata_filters")
    response = await client.get(
        "/v1/requests", params={"cursor": "unknown"}, headers=merchant.headers
    )
    assert_error(response, 400, "invalid_request", "cursor")
    assert_error(await client.get("/v1/requests/nope", headers=merchant.headers), 404, "not_found")


async def test_request_ids_with_slashes_and_spaces(client, merchant):
    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers)
    request_id = "run 7/step 3?x=1"
    assert (
        await report(client, merchant.headers, connection, product, request_id)
    ).status_code == 201
    from urllib.parse import quote

    fetched = await client.get(
        f"/v1/requests/{quote(request_id, safe='')}", headers=merchant.headers
    )
    assert fetched.status_code == 200
    assert fetched.json()["request_id"] == request_id


async def test_test_helpers(client, db, merchant):
    connection = await make_connection(
        client,
        merchant.headers,
        balance="12.5",
        reference_id="user-1",
        phone="+15551234567",
        email="a@example.com",
        first_name="Ada",
        last_name="Lovelace",
    )
    assert connection["connection_id"].startswith("con_test_")
    assert connection["connection_secret"].startswith("cons_test_")
    assert connection["reference_id"] == "user-1"
    assert connection["wallet"] == {
        "balance": "12.5000000000",
        "phone": "+15551234567",
        "email": "a@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "autopay_enabled": False,
    }
    assert connection["next_usage_reset"] > connection["previous_usage_reset"]
    path = f"/v1/test_helpers/connections/{connection['connection_id']}/fund"
    funded = await client.post(path, json={"amount": "0.25"}, headers=merchant.headers)
    assert funded.json()["wallet"]["balance"] == "12.7500000000"
    for amount in ("0", "-1", 1, "abc", "1e5"):
        response = await client.post(path, json={"amount": amount}, headers=merchant.headers)
        assert_error(response, 400, "invalid_request", "amount")
    response = await client.post(
        "/v1/test_helpers/connections/con_test_nope/fund",
        json={"amount": "1"},
        headers=merchant.headers,
    )
    assert_error(response, 404, "not_found")

    # The same phone reuses the customer's wallet (as checkout does).
    second = await make_connection(client, merchant.headers, balance="1", phone="+15551234567")
    assert second["wallet"]["balance"] == "13.7500000000"

    from lava_server.merchants import service as merchants

    live = await merchants.create_key(db, merchant.merchant_id, livemode=True)
    response = await client.post(
        "/v1/test_helpers/connections",
        json={"balance": "1"},
        headers={"Authorization": f"Bearer {live.secret_key}"},
    )
    assert_error(response, 403, "forbidden")
    listed = (
        await client.get(
            "/v1/connections", params={"reference_id": "user-1"}, headers=merchant.headers
        )
    ).json()
    assert [c["connection_id"] for c in listed["data"]] == [connection["connection_id"]]
    assert (await ledger_check(db)).problems == []


@pytest.mark.ledger_tampered
async def test_ledger_check_finds_a_tampered_balance(client, db, merchant):
    from sqlalchemy import update

    from lava_server.db.models import Wallet

    connection = await make_connection(client, merchant.headers, balance="5")
    assert (await ledger_check(db)).problems == []
    async with db.write() as session:
        await session.execute(
            update(Wallet).values(balance=Wallet.balance + Decimal("0.0000000001"))
        )
    problems = (await ledger_check(db)).problems
    assert len(problems) == 1
    assert problems[0].kind == "balance"
    assert "difference 1E-10" in problems[0].describe() or "0.0000000001" in problems[0].describe()
    assert connection


@pytest.mark.parametrize("provider", [None, "openai"])
async def test_model_extension_prices_the_provider_cost(client, merchant, db, provider):
    """Our `provider`/`model` fields: priced from the model price table (gpt-4o-mini: $0.15 and
    $0.60 per 1M tokens), here under a 10 % percentage fee (docs/pricing.md example 5's shape)."""
    product = await make_product(
        client,
        merchant.headers,
        rate_type="percentage",
        tiers=[{"start": 0, "rate": "10", "type": "tokens_1m"}],
    )
    connection = await make_connection(client, merchant.headers)
    extra = {"model": "gpt-4o-mini", **({"provider": provider} if provider else {})}
    body = (
        await report(
            client,
            merchant.headers,
            connection,
            product,
            "m",
            input_tokens=100_000,
            output_tokens=50_000,
            **extra,
        )
    ).json()
    usage = body["model_usage"]
    assert (usage["input_cost"], usage["output_cost"], usage["total_cost"]) == (
        "0.0150000000",
        "0.0300000000",
        "0.0450000000",
    )
    assert body["fee"]["amount"] == "0.0045000000"
    assert body["service_charge"]["amount"] == "0.0000855000"
    assert body["total_request_cost"] == "0.0495855000"
    assert body["total_wallet_cost"] == "0.0495855000"
    assert body["model"] == "gpt-4o-mini"
    assert body["provider"] == (provider or "merchant")
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == Decimal(
        10
    ) - Decimal("0.0495855000")
    assert (await ledger_check(db)).problems == []


async def test_keys_are_checked_inside_the_batch(client, db, merchant):
    """POST /v1/requests looks its secret key up in the batch's own transaction: in one burst,
    reports sent with a revoked or unknown key get 401 and charge nothing, the others go through."""
    from lava_server.merchants import service as merchants

    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers)
    revoked = await merchants.create_key(db, merchant.merchant_id, livemode=False)
    await merchants.revoke_key(db, revoked.key_id)
    bad_keys = [
        {"Authorization": f"Bearer {revoked.secret_key}"},
        {"Authorization": "Bearer aks_test_nope"},
    ]
    sends = []
    for index in range(12):
        headers = bad_keys[index % 2] if index % 3 == 0 else merchant.headers
        sends.append(report(client, headers, connection, product, f"k{index}", input_tokens=1000))
    responses = await asyncio.gather(*sends)
    for index, response in enumerate(responses):
        if index % 3 == 0:
            assert_error(response, 401, "unauthorized", "Authorization")
        else:
            assert response.status_code == 201, response.text
    listed = (
        await client.get("/v1/requests", params={"limit": "100"}, headers=merchant.headers)
    ).json()
    assert sorted(r["request_id"] for r in listed["data"]) == sorted(
        f"k{i}" for i in range(12) if i % 3
    )
    charged = sum(Decimal(r["total_wallet_cost"]) for r in listed["data"])
    assert (
        await balance_of(client, merchant.headers, connection["connection_id"])
        == Decimal(10) - charged
    )
    assert (await ledger_check(db)).problems == []
