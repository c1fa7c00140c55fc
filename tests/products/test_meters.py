"""`/v1/meters` of the current API over the same products as `/v1/products`, on both databases:
the SDK's `RestMeter` shapes, slugs (given, made from the name, unique per merchant and mode),
and products crossing between the eras."""

from __future__ import annotations

import pytest

from tests.api.test_api_base import assert_error

METER = {
    "name": "Chat Completions!",
    "rate_type": "fixed",
    "tier_type": "tokens_1m",
    "tiers": [{"start": "0", "rate": "2"}, {"start": "1000000", "rate": "1.5"}],
}


async def test_create_retrieve_update_list_delete(client, merchant):
    created = await client.post("/v1/meters", json=METER, headers=merchant.headers)
    assert created.status_code == 201, created.text
    meter = created.json()
    assert meter["meter_id"].startswith("prd_test_")
    assert meter["meter_slug"] == "chat-completions"
    assert meter["name"] == "Chat Completions!"
    assert meter["rate_type"] == "fixed"
    assert meter["tiers"] == [
        {"start": 0, "rate": "2", "type": "tokens_1m"},
        {"start": 1000000, "rate": "1.5", "type": "tokens_1m"},
    ]
    assert meter["created_at"].endswith("Z")
    path = f"/v1/meters/{meter['meter_id']}"
    assert (await client.get(path, headers=merchant.headers)).json() == meter

    # Same name again: the slug gets a number; a slug given is kept.
    second = (await client.post("/v1/meters", json=METER, headers=merchant.headers)).json()
    assert second["meter_slug"] == "chat-completions-2"
    own = await client.post(
        "/v1/meters", json={**METER, "meter_slug": "my_meter"}, headers=merchant.headers
    )
    assert own.json()["meter_slug"] == "my_meter"
    taken = await client.post(
        "/v1/meters", json={**METER, "meter_slug": "my_meter"}, headers=merchant.headers
    )
    assert_error(taken, 409, "conflict", "meter_slug")

    updated = await client.patch(
        path,
        json={"name": "Renamed", "tiers": [{"start": "0", "rate": "3"}]},
        headers=merchant.headers,
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["name"] == "Renamed"
    assert body["meter_slug"] == "chat-completions"  # a rename keeps the slug
    assert body["tiers"] == [{"start": 0, "rate": "3", "type": "tokens_1m"}]

    listed = (await client.get("/v1/meters?limit=2", headers=merchant.headers)).json()
    assert [m["meter_id"] for m in listed["data"]] == [own.json()["meter_id"], second["meter_id"]]
    assert listed["has_more"] is True
    rest = (
        await client.get(f"/v1/meters?cursor={listed['next_cursor']}", headers=merchant.headers)
    ).json()
    assert [m["meter_id"] for m in rest["data"]] == [meter["meter_id"]]

    deleted = await client.delete(path, headers=merchant.headers)
    assert deleted.json() == {"id": meter["meter_id"], "deleted": True}
    assert_error(await client.get(path, headers=merchant.headers), 404, "not_found", "meter_id")
    assert_error(await client.delete(path, headers=merchant.headers), 404, "not_found", "meter_id")
    # Its slug is free again.
    again = (await client.post("/v1/meters", json=METER, headers=merchant.headers)).json()
    assert again["meter_slug"] == "chat-completions"


async def test_slugs_are_per_merchant_and_mode(client, merchant, live_merchant):
    mine = (await client.post("/v1/meters", json=METER, headers=merchant.headers)).json()
    theirs = (await client.post("/v1/meters", json=METER, headers=live_merchant.headers)).json()
    assert mine["meter_slug"] == theirs["meter_slug"] == "chat-completions"
    assert_error(
        await client.get(f"/v1/meters/{mine['meter_id']}", headers=live_merchant.headers),
        404,
        "not_found",
        "meter_id",
    )


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"rate_type": "per-call"}, "rate_type"),
        ({"tier_type": "bytes"}, "tier_type"),
        ({"tiers": []}, "tiers"),
        ({"tiers": [{"start": 0, "rate": "1"}]}, "tiers"),  # start is a string
        ({"tiers": [{"start": "-1", "rate": "1"}]}, "tiers"),
        ({"tiers": [{"start": "5", "rate": "1"}]}, "tiers"),  # the first starts at 0
        ({"tiers": [{"start": "0", "rate": "x"}]}, "tiers"),
        ({"meter_slug": "Has Spaces"}, "meter_slug"),
        ({"name": ""}, "name"),
        ({"token_basis": "output"}, "token_basis"),
    ],
)
async def test_bad_meters_name_the_field(client, merchant, change, param):
    error = assert_error(
        await client.post("/v1/meters", json={**METER, **change}, headers=merchant.headers),
        400,
        "invalid_request",
    )
    assert (error.get("param") or "").startswith(param), error


async def test_products_and_meters_are_one(client, merchant):
    # Seed era -> current era.
    product = (
        await client.post(
            "/v1/products",
            json={"name": "Old Product", "tiers": [{"start": 0, "rate": "2", "type": "requests"}]},
            headers=merchant.headers,
        )
    ).json()
    assert product["meter_slug"] == "old-product"
    path = f"/v1/meters/{product['product_id']}"
    meter = (await client.get(path, headers=merchant.headers)).json()
    assert meter["meter_slug"] == "old-product"
    assert meter["product_secret"] == product["product_secret"]
    changed = await client.patch(
        path, json={"tiers": [{"start": "0", "rate": "4"}]}, headers=merchant.headers
    )
    assert changed.json()["tiers"] == [{"start": 0, "rate": "4", "type": "requests"}]
    seen = (
        await client.get(f"/v1/products/{product['product_id']}", headers=merchant.headers)
    ).json()
    assert seen["tiers"] == [{"start": 0, "rate": "4", "type": "requests"}]
    assert seen["base_cost_payer"] == "wallet"  # what the seed era set stays
    assert (await client.delete(path, headers=merchant.headers)).status_code == 200
    assert (
        await client.get(f"/v1/products/{product['product_id']}", headers=merchant.headers)
    ).status_code == 404

    # Current era -> seed era: the merchant bears the provider cost and the service charge.
    made = (await client.post("/v1/meters", json=METER, headers=merchant.headers)).json()
    old = (await client.get(f"/v1/products/{made['meter_id']}", headers=merchant.headers)).json()
    assert old["product_secret"] == made["product_secret"]
    assert old["meter_slug"] == made["meter_slug"]
    assert old["base_cost_payer"] == old["service_charge_payer"] == "merchant"
    assert old["tiers"] == made["tiers"]
    renamed = await client.put(
        f"/v1/products/{made['meter_id']}",
        json={"name": "Via Products", "meter_slug": "via-products"},
        headers=merchant.headers,
    )
    assert renamed.status_code == 200, renamed.text
    again = (await client.get(f"/v1/meters/{made['meter_id']}", headers=merchant.headers)).json()
    assert (again["name"], again["meter_slug"]) == ("Via Products", "via-products")
    gone = await client.delete(f"/v1/products/{made['meter_id']}", headers=merchant.headers)
    assert gone.status_code == 200
    assert_error(
        await client.get(f"/v1/meters/{made['meter_id']}", headers=merchant.headers),
        404,
        "not_found",
    )


async def test_concurrent_creates_get_distinct_slugs(client, merchant):
    import asyncio

    answers = await asyncio.gather(
        *(client.post("/v1/meters", json=METER, headers=merchant.headers) for _ in range(6))
    )
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    slugs = sorted(a.json()["meter_slug"] for a in answers)
    assert slugs == sorted(["chat-completions", *(f"chat-completions-{n}" for n in range(2, 7))])
