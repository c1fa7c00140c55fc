"""`POST/GET /v1/checkout_sessions`: each mode's rules, the token, listing, sandbox isolation."""

from __future__ import annotations

import base64
import json

import pytest

from tests.api.test_api_base import assert_error
from tests.checkout.helpers import ORIGIN, create_config, create_session, old_live_session
from tests.metering.helpers import make_connection


async def test_create_onboarding_session(client, merchant, settings):
    response = await client.post(
        "/v1/checkout_sessions",
        json={"checkout_mode": "onboarding", "origin_url": ORIGIN, "reference_id": "user-1"},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["checkout_session_id"].startswith("cs_test_")
    assert body["checkout_mode"] == "onboarding"
    assert body["origin_url"] == ORIGIN
    assert body["reference_id"] == "user-1"
    assert body["created_at"].endswith("Z") and body["expires_at"].endswith("Z")
    assert "completed_at" not in body and "connection_id" not in body
    token = json.loads(base64.b64decode(body["checkout_session_token"], validate=True))
    assert set(token) == {"secret", "base"}
    assert token["secret"].startswith("css_test_")
    assert token["base"] == settings.public_base == "http://127.0.0.1:8787/"


async def test_token_base_is_the_public_url(database_url, db, merchant):
    import httpx

    from lava_server.app import create_app
    from lava_server.settings import Settings

    settings = Settings(database_url=database_url, public_url="https://pay.example.com/lava")
    app = create_app(settings, db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://lava.test"
    ) as client:
        body = await create_session(client, merchant.headers)
    token = json.loads(base64.b64decode(body["checkout_session_token"]))
    assert token["base"] == "https://pay.example.com/lava/"


async def test_topup_needs_a_connection_with_a_phone(client, merchant):
    response = await client.post(
        "/v1/checkout_sessions",
        json={"checkout_mode": "topup", "origin_url": ORIGIN},
        headers=merchant.headers,
    )
    assert_error(response, 400, "invalid_request", "connection_id")
    response = await client.post(
        "/v1/checkout_sessions",
        json={"checkout_mode": "topup", "origin_url": ORIGIN, "connection_id": "con_test_x"},
        headers=merchant.headers,
    )
    assert_error(response, 404, "not_found", "connection_id")
    phoneless = await make_connection(client, merchant.headers)
    response = await client.post(
        "/v1/checkout_sessions",
        json={
            "checkout_mode": "topup",
            "origin_url": ORIGIN,
            "connection_id": phoneless["connection_id"],
        },
        headers=merchant.headers,
    )
    assert_error(response, 400, "invalid_request", "connection_id")
    with_phone = await make_connection(client, merchant.headers, phone="+14155550100")
    body = await create_session(
        client, merchant.headers, "topup", connection_id=with_phone["connection_id"]
    )
    assert body["connection_id"] == with_phone["connection_id"]


async def test_subscription_needs_a_config(client, merchant):
    response = await client.post(
        "/v1/checkout_sessions",
        json={"checkout_mode": "subscription", "origin_url": ORIGIN},
        headers=merchant.headers,
    )
    assert_error(response, 400, "invalid_request", "subscription_config_id")
    response = await client.post(
        "/v1/checkout_sessions",
        json={
            "checkout_mode": "subscription",
            "origin_url": ORIGIN,
            "subscription_config_id": "sc_test_nope",
        },
        headers=merchant.headers,
    )
    assert_error(response, 404, "not_found", "subscription_config_id")
    config = await create_config(client, merchant.headers)
    body = await create_session(
        client,
        merchant.headers,
        "subscription",
        subscription_config_id=config["subscription_config_id"],
    )
    assert body["subscription_config_id"] == config["subscription_config_id"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"checkout_mode": "gift"}, "checkout_mode"),
        ({"origin_url": "javascript:alert(1)"}, "origin_url"),
        ({"origin_url": "https://shop.example' 'unsafe-inline'"}, "origin_url"),
        ({"origin_url": "https://user:pw@shop.example"}, "origin_url"),
        ({"origin_url": "https://shop.example:99999"}, "origin_url"),
        ({"origin_url": "ftp://shop.example"}, "origin_url"),
        ({"origin_url": ""}, "origin_url"),
        ({"reference_id": ""}, "reference_id"),
        ({"reference_id": "x" * 256}, "reference_id"),
        ({"connection_id": "con_test_x"}, "connection_id"),
        ({"subscription_config_id": "sc_test_x"}, "subscription_config_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_input_names_the_field(client, merchant, fields, param):
    body = {"checkout_mode": "onboarding", "origin_url": ORIGIN, **fields}
    response = await client.post("/v1/checkout_sessions", json=body, headers=merchant.headers)
    assert_error(response, 400, "invalid_request", param)


async def test_missing_origin_url(client, merchant):
    response = await client.post(
        "/v1/checkout_sessions", json={"checkout_mode": "onboarding"}, headers=merchant.headers
    )
    assert_error(response, 400, "invalid_request", "origin_url")


async def test_list_filter_paginate_and_retrieve(client, merchant, live_merchant, db):
    made = [
        await create_session(client, merchant.headers, reference_id="a" if i % 2 else "b")
        for i in range(5)
    ]
    await old_live_session(db, live_merchant.merchant_id)  # live keys can no longer create one
    page = (await client.get("/v1/checkout_sessions?limit=2", headers=merchant.headers)).json()
    assert [s["checkout_session_id"] for s in page["data"]] == [
        made[4]["checkout_session_id"],
        made[3]["checkout_session_id"],
    ]
    assert page["has_more"] is True
    rest = (
        await client.get(
            "/v1/checkout_sessions",
            params={"limit": 10, "cursor": page["next_cursor"]},
            headers=merchant.headers,
        )
    ).json()
    assert len(rest["data"]) == 3 and rest["has_more"] is False and "next_cursor" not in rest
    only_a = (
        await client.get("/v1/checkout_sessions?reference_id=a", headers=merchant.headers)
    ).json()
    assert {s["checkout_session_id"] for s in only_a["data"]} == {
        made[1]["checkout_session_id"],
        made[3]["checkout_session_id"],
    }
    one = await client.get(
        f"/v1/checkout_sessions/{made[0]['checkout_session_id']}", headers=merchant.headers
    )
    assert one.status_code == 200 and one.json() == made[0]
    assert_error(
        await client.get("/v1/checkout_sessions?cursor=bogus", headers=merchant.headers),
        400,
        "invalid_request",
        "cursor",
    )
    assert_error(
        await client.get("/v1/checkout_sessions?limit=0", headers=merchant.headers),
        400,
        "invalid_request",
        "limit",
    )
    # Live and sandbox never mix.
    assert_error(
        await client.get(
            f"/v1/checkout_sessions/{made[0]['checkout_session_id']}",
            headers=live_merchant.headers,
        ),
        404,
        "not_found",
    )
    live_list = (await client.get("/v1/checkout_sessions", headers=live_merchant.headers)).json()
    assert len(live_list["data"]) == 1
    assert live_list["data"][0]["checkout_session_id"].startswith("cs_01")


async def test_idempotency_key_returns_the_same_session(client, merchant):
    headers = {**merchant.headers, "Idempotency-Key": "cs-1"}
    body = {"checkout_mode": "onboarding", "origin_url": ORIGIN}
    first = await client.post("/v1/checkout_sessions", json=body, headers=headers)
    again = await client.post("/v1/checkout_sessions", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    listed = (await client.get("/v1/checkout_sessions", headers=merchant.headers)).json()
    assert len(listed["data"]) == 1


async def test_auth_required(client):
    assert_error(await client.get("/v1/checkout_sessions"), 401, "unauthorized")
