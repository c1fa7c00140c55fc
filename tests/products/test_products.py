"""Products CRUD and validation (`docs/pricing.md` fields), on both databases."""

from __future__ import annotations

import pytest

from tests.api.test_api_base import assert_error

TIER = {"start": 0, "rate": "2", "type": "tokens_1m"}


async def test_create_applies_the_pricing_defaults(client, merchant):
    response = await client.post(
        "/v1/products", json={"name": "Chat", "tiers": [TIER]}, headers=merchant.headers
    )
    assert response.status_code == 201
    product = response.json()
    assert product["product_id"].startswith("prd_test_")
    assert product["product_secret"].startswith("ps_test_")
    assert product["rate_type"] == "fixed"
    assert product["token_basis"] == "input+output"
    assert product["base_cost_payer"] == "wallet"
    assert product["service_charge_payer"] == "wallet"
    assert product["overdraft"] == "block"
    assert product["tiers"] == [TIER]
    assert product["created_at"].endswith("Z")


async def test_retrieve_update_delete(client, merchant):
    body = {
        "name": "Graduated",
        "rate_type": "percentage",
        "token_basis": "output",
        "tiers": [
            {"start": 0, "rate": "5", "type": "tokens_1m"},
            {"start": 1000000, "rate": "3.25", "type": "tokens_1m"},
        ],
        "base_cost_payer": "merchant",
        "service_charge_payer": "merchant",
        "overdraft": "allow",
    }
    created = (await client.post("/v1/products", json=body, headers=merchant.headers)).json()
    path = f"/v1/products/{created['product_id']}"
    fetched = (await client.get(path, headers=merchant.headers)).json()
    assert fetched == created
    assert fetched["tiers"][1] == {"start": 1000000, "rate": "3.25", "type": "tokens_1m"}

    updated = await client.put(
        path, json={"name": "Renamed", "overdraft": "block"}, headers=merchant.headers
    )
    assert updated.status_code == 200
    assert updated.json()["name"] == "Renamed"
    assert updated.json()["overdraft"] == "block"
    assert updated.json()["rate_type"] == "percentage"  # untouched fields stay
    assert updated.json()["product_secret"] == created["product_secret"]

    bad = await client.put(
        path,
        json={"tiers": [{"start": 5, "rate": "1", "type": "requests"}]},
        headers=merchant.headers,
    )
    assert_error(bad, 400, "invalid_request", "tiers[0].start")
    assert (await client.get(path, headers=merchant.headers)).json()["tiers"] == body["tiers"]

    assert (await client.delete(path, headers=merchant.headers)).json() == {"success": True}
    assert_error(await client.get(path, headers=merchant.headers), 404, "not_found")
    assert_error(await client.delete(path, headers=merchant.headers), 404, "not_found")
    assert_error(
        await client.put(path, json={"name": "x"}, headers=merchant.headers), 404, "not_found"
    )
    assert (await client.get("/v1/products", headers=merchant.headers)).json()["data"] == []


@pytest.mark.parametrize(
    ("tiers", "param"),
    [
        ([], "tiers"),
        ([{"start": 10, "rate": "1", "type": "tokens_1m"}], "tiers[0].start"),
        ([TIER, {"start": 0, "rate": "1", "type": "tokens_1m"}], "tiers[1].start"),
        (
            [
                TIER,
                {"start": 100, "rate": "1", "type": "tokens_1m"},
                {"start": 50, "rate": "1", "type": "tokens_1m"},
            ],
            "tiers[2].start",
        ),
        ([TIER, {"start": 100, "rate": "1", "type": "requests"}], "tiers[1].type"),
        ([{"start": 0, "rate": "-1", "type": "tokens_1m"}], "tiers[0].rate"),
        ([{"start": 0, "rate": "abc", "type": "tokens_1m"}], "tiers[0].rate"),
        ([{"start": 0, "rate": "1", "type": "tokens"}], "tiers[0].type"),
        ([{"start": -1, "rate": "1", "type": "tokens_1m"}], "tiers[0].start"),
        ([{"start": 0, "rate": "1"}], "tiers[0].type"),
        ([{"start": 0, "rate": "1", "type": "tokens_1m", "extra": 1}], "tiers[0].extra"),
        ([{"start": 0, "rate": "0.00000000001", "type": "tokens_1m"}], "tiers[0].rate"),
    ],
)
async def test_each_bad_tier_list_is_a_400_naming_the_field(client, merchant, tiers, param):
    response = await client.post(
        "/v1/products", json={"name": "Bad", "tiers": tiers}, headers=merchant.headers
    )
    assert_error(response, 400, "invalid_request", param)
    assert (await client.get("/v1/products", headers=merchant.headers)).json()["data"] == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rate_type", "flat"),
        ("token_basis", "input"),
        ("base_cost_payer", "customer"),
        ("service_charge_payer", None),
        ("overdraft", "maybe"),
        ("name", ""),
    ],
)
async def test_unknown_enums_are_400(client, merchant, field, value):
    body = {"name": "X", "tiers": [TIER], field: value}
    response = await client.post("/v1/products", json=body, headers=merchant.headers)
    assert_error(response, 400, "invalid_request", field)


async def test_every_tier_type_is_accepted(client, merchant):
    for tier_type in ("tokens_1m", "characters_1m", "minutes", "requests"):
        body = {"name": tier_type, "tiers": [{"start": 0, "rate": "0", "type": tier_type}]}
        assert (
            await client.post("/v1/products", json=body, headers=merchant.headers)
        ).status_code == 201


@pytest.mark.parametrize("rate", ["0.0000001", "0.00000010", "0.0000000001", "12.50"])
async def test_a_rate_is_kept_as_given_however_small(client, merchant, rate):
    """Up to 10 decimal places are valid, and come back as they were written (a rate below one
    millionth used to become "1E-7" on the way in, and be refused as not a plain decimal)."""
    tiers = [{"start": 0, "rate": rate, "type": "tokens_1m"}]
    created = await client.post(
        "/v1/products", json={"name": "Cheap", "tiers": tiers}, headers=merchant.headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["tiers"] == tiers
    path = f"/v1/products/{created.json()['product_id']}"
    updated = await client.put(path, json={"tiers": tiers}, headers=merchant.headers)
    assert updated.json()["tiers"] == tiers
