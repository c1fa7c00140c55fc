"""Hostile input gets a 4xx naming the field and changes nothing, on both databases: deeply nested
JSON (it used to be a RecursionError, a 500) and NUL characters (PostgreSQL refused them with a
500 while SQLite stored them)."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from lava_server.db.engine import Database
from lava_server.db.models import CheckoutSession, Connection, Product, Request, SubscriptionConfig
from lava_server.untrusted import MAX_JSON_DEPTH
from tests.api.test_api_base import assert_error
from tests.metering.helpers import make_connection, make_product, report

DEEP = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000
# Past Python's recursion limit, and short enough for a URL
DEEP_Q = "[" * 3000 + "]" * 3000
DEEP_OBJECT_Q = '{"a":' * 1500 + "1" + "}" * 1500


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


async def count(db: Database, model: type) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture(autouse=True)
def no_tracebacks(caplog):
    """Nothing here may reach the 500 handler (which logs the traceback)."""
    caplog.set_level(logging.ERROR)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


# -- deeply nested JSON ------------------------------------------------------------------------


@pytest.mark.parametrize("deep", [DEEP_Q, DEEP_OBJECT_Q, json.dumps([["k", nested(40)]])])
async def test_deep_metadata_filters_are_400(client, merchant, deep):
    for path in ("/v1/requests", "/v1/usage?start=2026-01-01T00:00:00Z"):
        separator = "&" if "?" in path else "?"
        response = await client.get(
            f"{path}{separator}metadata_filters={quote(deep)}", headers=merchant.headers
        )
        assert_error(response, 400, "invalid_request", "metadata_filters")


async def test_deep_bodies_are_400_naming_the_field(client, db, merchant):
    connection = await make_connection(client, merchant.headers)
    product = await make_product(client, merchant.headers)
    cases = {
        "/v1/requests": (
            '{"request_id": "r1", "connection_secret": "'
            + connection["connection_secret"]
            + '", "product_secret": "'
            + product["product_secret"]
            + '", "metadata": '
            + DEEP
            + "}",
            "metadata",
        ),
        "/v1/products": ('{"name": "Chat", "tiers": ' + DEEP_OBJECT + "}", "tiers"),
        "/v1/checkout_sessions": ('{"checkout_mode": "onboarding", "x": ' + DEEP + "}", "x"),
        "/v1/subscription-configs": ('{"name": ' + DEEP + "}", "name"),
    }
    for path, (body, param) in cases.items():
        response = await client.post(
            path, content=body, headers={**merchant.headers, "content-type": "application/json"}
        )
        error = assert_error(response, 400, "invalid_request", param)
        assert "nested too deeply" in error["message"]
    # a whole body that is only brackets names no field
    response = await client.post("/v1/products", content=DEEP, headers=merchant.headers)
    assert_error(response, 400, "invalid_request")
    assert await count(db, Request) == 0
    assert await count(db, Product) == 1


async def test_depth_limit_is_exactly_the_documented_one(client, merchant):
    connection = await make_connection(client, merchant.headers)
    body = {
        "name": "Chat",
        "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}],
        "unknown": nested(MAX_JSON_DEPTH - 1),
    }
    # within the limit: the route's own validation speaks (an unknown field)
    response = await client.post("/v1/products", json=body, headers=merchant.headers)
    assert_error(response, 400, "invalid_request", "unknown")
    assert "nested too deeply" not in response.text
    body["unknown"] = nested(MAX_JSON_DEPTH)
    response = await client.post("/v1/products", json=body, headers=merchant.headers)
    assert (
        "nested too deeply" in assert_error(response, 400, "invalid_request", "unknown")["message"]
    )
    assert connection  # the connection helper used the same body rules


def forward_token(payload: str) -> str:
    return base64.b64encode(payload.encode()).decode()


async def test_deep_forward_metadata_and_tokens(client, merchant):
    url = "/v1/forward?u=https://api.openai.com/v1/chat/completions"
    token = forward_token(json.dumps({"secret_key": merchant.secret_key, "provider_key": "sk-x"}))
    response = await client.post(
        url, json={}, headers={"Authorization": f"Bearer {token}", "x-lava-metadata": DEEP_OBJECT}
    )
    assert_error(response, 400, "invalid_request", "x-lava-metadata")
    response = await client.post(
        f"{url}&metadata={quote(DEEP_Q)}", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert_error(response, 400, "invalid_request", "metadata")
    # inside a token: 401, and no traceback in the log (anyone can send one)
    for payload in (DEEP, DEEP_OBJECT, '{"secret_key": ' + DEEP + "}"):
        response = await client.post(
            url, json={}, headers={"Authorization": f"Bearer {forward_token(payload)}"}
        )
        assert_error(response, 401, "unauthorized")


# -- NUL characters ---------------------------------------------------------------------------


async def test_nul_in_bodies_is_400_naming_the_field(client, db, merchant):
    connection = await make_connection(client, merchant.headers)
    product = await make_product(client, merchant.headers)
    tiers = [{"start": 0, "rate": "2", "type": "tokens_1m"}]
    cases = [
        ("POST", "/v1/products", {"name": "a\x00b", "tiers": tiers}, "name"),
        ("PUT", f"/v1/products/{product['product_id']}", {"name": "a\x00"}, "name"),
        (
            "POST",
            "/v1/subscription-configs",
            {"name": "Pro\x00", "period_amount": "10", "rollover_type": "none"},
            "name",
        ),
        ("POST", "/v1/test_helpers/connections", {"first_name": "\x00"}, "first_name"),
        ("POST", "/v1/test_helpers/connections", {"reference_id": "u\x001"}, "reference_id"),
        (
            "POST",
            "/v1/checkout_sessions",
            {
                "checkout_mode": "onboarding",
                "origin_url": "https://shop.example",
                "reference_id": "user\x0042",
            },
            "reference_id",
        ),
    ]
    report_fields = {
        "request_id": "r1",
        "connection_secret": connection["connection_secret"],
        "product_secret": product["product_secret"],
    }
    for field, value in (
        ("metadata", {"user": "a\x00"}),
        ("model", "gpt-4o\x00"),
        ("connection_secret", "cons_\x00"),
        ("request_id", "r\x00"),
    ):
        param = "metadata.user" if field == "metadata" else field
        cases.append(("POST", "/v1/requests", {**report_fields, field: value}, param))
    for method, path, body, param in cases:
        response = await client.request(method, path, json=body, headers=merchant.headers)
        error = assert_error(response, 400, "invalid_request", param)
        assert "NUL" in error["message"]
    assert await count(db, Request) == 0
    assert await count(db, Product) == 1
    assert await count(db, SubscriptionConfig) == 0
    assert await count(db, Connection) == 1
    assert await count(db, CheckoutSession) == 0


async def test_nul_in_query_parameters_is_400_naming_them(client, merchant):
    for path, param in (
        ("/v1/checkout_sessions?reference_id=a%00", "reference_id"),
        ("/v1/connections?reference_id=%00", "reference_id"),
        ("/v1/requests?connection_id=con%00", "connection_id"),
        ("/v1/requests?metadata_filters=" + quote('[["k","v\x00"]]'), "metadata_filters"),
        ("/v1/usage?start=2026-01-01T00:00:00Z&product_id=p%00", "product_id"),
        ("/v1/products?cursor=%00", "cursor"),
    ):
        response = await client.get(path, headers=merchant.headers)
        assert_error(response, 400, "invalid_request", param)
    # escaped inside the JSON of metadata_filters (not %00 in the URL)
    response = await client.get(
        "/v1/requests?metadata_filters=" + quote('[["k","v\\u0000"]]'), headers=merchant.headers
    )
    assert_error(response, 400, "invalid_request", "metadata_filters")


async def test_nul_in_path_ids_is_not_found(client, merchant):
    for method, path in (
        ("GET", "/v1/requests/a%00b"),
        ("GET", "/v1/connections/con%00"),
        ("DELETE", "/v1/connections/con%00"),
        ("GET", "/v1/products/prd%00"),
        ("DELETE", "/v1/products/prd%00"),
        ("GET", "/v1/checkout_sessions/cs%00"),
        ("DELETE", "/v1/active-subscriptions/as%00"),
        ("GET", "/embed/checkout/css%00"),
    ):
        response = await client.request(method, path, headers=merchant.headers)
        assert response.status_code == 404, (path, response.text)


async def test_nul_in_forward_metadata_and_model(client, merchant, db):
    connection = await make_connection(client, merchant.headers)
    token = forward_token(
        json.dumps(
            {
                "secret_key": merchant.secret_key,
                "connection_secret": connection["connection_secret"],
                "provider_key": "sk-unmanaged",
            }
        )
    )
    url = "/v1/forward?u=https://api.openai.com/v1/chat/completions"
    headers = {"Authorization": f"Bearer {token}"}
    response = await client.post(
        url, json={}, headers={**headers, "x-lava-metadata": '{"user": "a\\u0000"}'}
    )
    assert_error(response, 400, "invalid_request", "x-lava-metadata")
    response = await client.post(url, json={"model": "gpt-4o\x00", "messages": []}, headers=headers)
    assert_error(response, 400, "invalid_request", "model")
    response = await client.post(f"{url}%00", json={}, headers=headers)
    assert_error(response, 400, "invalid_request", "u")
    assert await count(db, Request) == 0


async def test_ordinary_reports_still_work(client, merchant):
    """The guard only screens: a normal report (with a backslash-u in a value) goes through."""
    connection = await make_connection(client, merchant.headers)
    product = await make_product(client, merchant.headers)
    response = await report(
        client,
        merchant.headers,
        connection,
        product,
        "r1",
        input_tokens=10,
        metadata={"note": "a\\u0000 is not a NUL"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["metadata"] == {"note": "a\\u0000 is not a NUL"}
