"""/openapi.json tells the truth: every documented operation is driven with real requests (on
SQLite and on PostgreSQL), and every answer the test receives, successes and the usual errors, must
be one that the published document allows: its status, media type, body schema and headers, judged
by schemathesis' own checks. An operation that is documented but was never exercised (or never
gave the success or error answers it documents) fails the test too."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import httpx
import pytest
import schemathesis
from pydantic import TypeAdapter
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lava_server.errors import ErrorEnvelope
from lava_server.settings import Settings
from lava_server.testing import ServerThread
from lavapayments.forward_token import encode_forward_token
from tests.conftest import MerchantKey
from tests.metering.helpers import make_connection, make_product, report
from tests.money_ops.helpers import onboarded
from tests.secret_keys.helpers import later
from tests.subscriptions.helpers import subscribe

CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
OPENAI = "https://api.openai.com/v1"
LAVA_ERROR = TypeAdapter(ErrorEnvelope)


class PublishedSchema:
    """Checks each answer of the client against /openapi.json and records it by operation."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.schema = schemathesis.openapi.from_dict(document)
        self.statuses: dict[str, set[int]] = defaultdict(set)

    async def check(self, response: httpx.Response) -> None:
        path = response.request.url.path
        if not (path.startswith("/v1/") or path == "/healthz"):
            return  # the checkout page and the docs are not API operations
        await response.aread()
        method = response.request.method
        operation = self.schema.find_operation_by_path(method, path)
        assert operation is not None, f"{method} {path} is not in /openapi.json"
        case = operation.Case(path_parameters={p.name: "x" for p in operation.path_parameters})
        case.validate_response(response, checks=CHECKS)
        self.statuses[operation.label].add(response.status_code)

    def unexercised(self) -> list[str]:
        """Operations never called, or that never gave a success (error) they document."""
        missing = []
        for path, item in self.document["paths"].items():
            for method, operation in item.items():
                label = f"{method.upper()} {path}"
                seen = self.statuses.get(label, set())
                documented = operation["responses"]
                if not seen:
                    missing.append(f"{label}: never called")
                if any(s.startswith("2") for s in documented) and not any(
                    200 <= s < 300 for s in seen
                ):
                    missing.append(f"{label}: no success answer")
                if any(s.startswith("4") for s in documented) and not any(
                    400 <= s < 500 for s in seen
                ):
                    missing.append(f"{label}: no error answer")
        return missing


@pytest.fixture
def forward_env(monkeypatch: pytest.MonkeyPatch, fake_server: ServerThread) -> None:
    """OpenAI's calls go to the fake provider, with a managed key (set before the app exists)."""
    monkeypatch.setenv("LAVA_UPSTREAM_OPENAI", fake_server.url)
    monkeypatch.setenv("LAVA_PROVIDER_KEY_OPENAI", "sk-managed")


@pytest.fixture
async def published(forward_env: None, client: httpx.AsyncClient) -> PublishedSchema:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    published = PublishedSchema(response.json())
    client.event_hooks["response"].append(published.check)
    return published


async def test_every_answer_is_one_the_published_schema_allows(
    published: PublishedSchema,
    client: httpx.AsyncClient,
    merchant: MerchantKey,
    live_merchant: MerchantKey,
    fake,
):
    h = merchant.headers
    assert (await client.get("/healthz")).status_code == 200

    product = await _products(client, h)
    connection = await _connections(client, h, live_merchant.headers)
    await _requests(client, h, product, connection)
    await _usage(client, h)
    await _checkout_and_subscriptions(client, h)
    await _forward(client, merchant, product, connection)
    await _webhooks(client, h)
    await _customers(client, h)
    await _secret_keys(client, h)
    await _spend_keys(client, h)
    await _expect(client.get("/v1/models"), 200)
    await _meters(client, h)
    await _plans(client, h)
    await _money(client, h)
    await _blocked_address(client)

    assert published.unexercised() == []


async def _plans(client: httpx.AsyncClient, h: dict[str, str]) -> None:
    body = {
        "name": "Pro",
        "period_amount": "10",
        "billing_interval": "month",
        "credit_bundles": [{"name": "B", "cost": "5", "credit_amount": "5"}],
        "default_auto_top_up_bundle_index": 0,
    }
    plan = await _expect(client.post("/v1/plans", json=body, headers=h), 201)
    await _expect(client.post("/v1/plans", json={**body, "included_credit": "11"}, headers=h), 400)
    base = f"/v1/plans/{plan['plan_id']}"
    plans = await _expect(client.get("/v1/plans", headers=h), 200)
    await _expect(client.get("/v1/plans", params={"limit": "0"}, headers=h), 400)
    await _expect(client.get(base, headers=h), 200)
    await _expect(client.get("/v1/plans/sc_test_missing", headers=h), 404)
    await _expect(client.patch(base, json={"name": "Pro 2"}, headers=h), 200)
    await _expect(client.patch(base, json={"period_amount": "1"}, headers=h), 400)
    bundle = plan["credit_bundles"][0]["credit_bundle_id"]
    await _expect(
        client.get("/v1/credit_bundles", params={"plan_id": plan["plan_id"]}, headers=h), 200
    )
    await _expect(client.get("/v1/credit_bundles", params={"limit": "0"}, headers=h), 400)
    await _expect(client.get(f"/v1/credit_bundles/{bundle}", headers=h), 200)
    await _expect(client.get("/v1/credit_bundles/cb_test_missing", headers=h), 404)
    free = next(p for p in plans["data"] if p["name"] == "Free")
    customer = await _expect(client.post("/v1/customers", json={}, headers=h), 201)
    made = {"customer_id": customer["customer_id"], "plan_id": free["plan_id"]}
    sub = await _expect(client.post("/v1/subscriptions", json=made, headers=h), 201)
    paid = {**made, "plan_id": plan["plan_id"]}
    await _expect(client.post("/v1/subscriptions", json=paid, headers=h), 400)
    await _expect(client.get("/v1/subscriptions", params={"status": "all"}, headers=h), 200)
    await _expect(client.get("/v1/subscriptions", params={"status": "x"}, headers=h), 400)
    path = f"/v1/subscriptions/{sub['subscription']['subscription_id']}"
    await _expect(client.patch(path, json={"auto_top_up_bundle_id": None}, headers=h), 200)
    await _expect(client.patch(path, json={"auto_top_up_bundle_id": bundle}, headers=h), 400)
    await _expect(client.delete(path, headers=h), 200)
    await _expect(client.delete("/v1/subscriptions/as_test_missing", headers=h), 404)
    await _expect(
        client.get(f"/v1/customers/{customer['customer_id']}/subscription", headers=h), 200
    )
    await _expect(client.delete(base, headers=h), 200)
    await _expect(client.delete(base, headers=h), 404)


async def _money(client: httpx.AsyncClient, h: dict[str, str]) -> None:
    """Grants, adjustments, refunds and payments (`money_ops`), with a paid top-up."""
    customer, payment_id = await onboarded(client, h, amount="20", phone="+1 415 555 0177")
    for era in ("customers", "connections"):
        base = f"/v1/{era}/{customer}"
        grant = {"amount": "2", "reason": "welcome"}
        await _expect(client.post(f"{base}/credits", json=grant, headers=h), 201)
        await _expect(client.post(f"{base}/credits", json={**grant, "amount": "0"}, headers=h), 400)
        fix = {"amount": "-1", "reason": "fix"}
        await _expect(client.post(f"{base}/adjustments", json=fix, headers=h), 201)
        too_far = {**fix, "amount": "-1000"}
        await _expect(client.post(f"{base}/adjustments", json=too_far, headers=h), 402)
    refund = await _expect(
        client.post("/v1/refunds", json={"payment_id": payment_id, "amount": "5"}, headers=h), 201
    )
    await _expect(
        client.post("/v1/refunds", json={"payment_id": payment_id, "amount": "50"}, headers=h), 400
    )
    await _expect(client.get(f"/v1/refunds/{refund['id']}", headers=h), 200)
    await _expect(client.get("/v1/refunds/re_test_missing", headers=h), 404)
    await _expect(client.get("/v1/payments", params={"customer_id": customer}, headers=h), 200)
    await _expect(client.get("/v1/payments", params={"limit": "0"}, headers=h), 400)
    await _expect(client.get(f"/v1/payments/{payment_id}", headers=h), 200)
    await _expect(client.get("/v1/payments/pay_test_missing", headers=h), 404)


async def _blocked_address(client: httpx.AsyncClient) -> None:
    """Last: past the failed authentications an address may make, even the routes that need no
    key answer 429."""
    for _ in range(Settings().auth_failures_per_minute):  # fewer if the test failed some
        answer = await client.get("/v1/meters", headers={"Authorization": "Bearer x"})
        assert answer.status_code in (401, 429), answer.text
    await _expect(client.get("/v1/models"), 429)


async def _meters(client: httpx.AsyncClient, h: dict[str, str]) -> None:
    body = {
        "name": "M",
        "rate_type": "fixed",
        "tier_type": "requests",
        "tiers": [{"start": "0", "rate": "1"}],
    }
    meter = await _expect(client.post("/v1/meters", json=body, headers=h), 201)
    await _expect(client.post("/v1/meters", json={**body, "meter_slug": "m"}, headers=h), 409)
    await _expect(client.post("/v1/meters", json={**body, "tiers": []}, headers=h), 400)
    base = f"/v1/meters/{meter['meter_id']}"
    missing = "/v1/meters/prd_test_missing"
    await _expect(client.get("/v1/meters", headers=h), 200)
    await _expect(client.get("/v1/meters", params={"limit": "0"}, headers=h), 400)
    await _expect(client.get(base, headers=h), 200)
    await _expect(client.get(missing, headers=h), 404)
    await _expect(client.patch(base, json={"name": "N"}, headers=h), 200)
    await _expect(client.patch(missing, json={"name": "N"}, headers=h), 404)
    await _expect(client.delete(base, headers=h), 200)
    await _expect(client.delete(base, headers=h), 404)


async def _secret_keys(client: httpx.AsyncClient, h: dict[str, str]) -> None:
    key = await _expect(client.post("/v1/secret_keys", json={"name": "k"}, headers=h), 201)
    await _expect(client.post("/v1/secret_keys", json={"name": ""}, headers=h), 400)
    await _expect(client.get("/v1/secret_keys", headers=h), 200)
    await _expect(client.get("/v1/secret_keys", params={"cursor": "x"}, headers=h), 400)
    await _expect(client.delete("/v1/secret_keys/key_test_missing", headers=h), 404)
    # A key made less than 15 s ago cannot be revoked yet (docs/current-api.md#secret-keys).
    await _expect(client.delete(f"/v1/secret_keys/{key['secret_key_id']}", headers=h), 429)
    with pytest.MonkeyPatch.context() as patch:
        later(patch)
        await _expect(client.delete(f"/v1/secret_keys/{key['secret_key_id']}", headers=h), 200)


async def _spend_keys(client: httpx.AsyncClient, h: dict[str, str]) -> None:
    body = {
        "name": "k",
        "allowed_models": ["gpt-4o-mini"],
        "spend_limit": {"amount": "0.05", "cycle": "daily"},
        "request_limit": {"count": 10, "cycle": "total"},
        "rate_limit": {"rpm": 60, "burst": None},
        "expires_at": "2030-01-01T00:00:00Z",
    }
    key = await _expect(client.post("/v1/spend_keys", json=body, headers=h), 201)
    await _expect(client.post("/v1/spend_keys", json={"name": ""}, headers=h), 400)
    base = f"/v1/spend_keys/{key['spend_key_id']}"
    missing = "/v1/spend_keys/spk_test_missing"
    await _expect(client.get("/v1/spend_keys", params={"limit": "1"}, headers=h), 200)
    await _expect(client.get("/v1/spend_keys", params={"cursor": "x"}, headers=h), 400)
    await _expect(client.get(base, headers=h), 200)
    await _expect(client.get(missing, headers=h), 404)
    await _expect(client.put(base, json={"status": "paused", "spend_limit": None}, headers=h), 200)
    await _expect(client.put(base, json={"status": "revoked"}, headers=h), 400)
    await _expect(client.post(f"{base}/rotate", headers=h), 200)
    await _expect(client.post(f"{missing}/rotate", headers=h), 404)
    await _expect(client.delete(base, headers=h), 200)
    await _expect(client.delete(base, headers=h), 404)


async def _customers(client: httpx.AsyncClient, h: dict[str, str]) -> None:
    body = {"reference_id": "cu-1", "name": "Ada Lovelace", "metadata": {"a": [1, None]}}
    customer = await _expect(client.post("/v1/customers", json=body, headers=h), 201)
    await _expect(client.post("/v1/customers", json={"reference_id": "con_x"}, headers=h), 400)
    base = f"/v1/customers/{customer['customer_id']}"
    missing = "/v1/customers/con_test_missing"
    await _expect(client.get("/v1/customers", params={"limit": "1"}, headers=h), 200)
    await _expect(client.get("/v1/customers", params={"limit": "x"}, headers=h), 400)
    await _expect(client.get(base, headers=h), 200)
    await _expect(client.get(missing, headers=h), 404)
    await _expect(client.patch(base, json={"email": None}, headers=h), 200)
    await _expect(client.patch(base, json={"email": "x"}, headers=h), 400)
    await _expect(client.get(f"{base}/subscription", headers=h), 200)
    await _expect(client.get(f"{missing}/subscription", headers=h), 404)
    active = await subscribe(client, h, phone="+1 415 555 0177")
    answer = await _expect(
        client.get(f"/v1/customers/{active['connection_id']}/subscription", headers=h), 200
    )
    assert answer["subscription"]["subscription_id"] == active["active_subscription_id"]
    await _expect(client.delete(base, headers=h), 200)
    await _expect(client.delete(base, headers=h), 404)


async def _webhooks(client: httpx.AsyncClient, h: dict[str, str]) -> None:
    url = "https://hooks.example.com/lava"
    await _expect(
        client.post("/v1/webhooks", json={"name": "x", "url": "http://a/"}, headers=h), 400
    )
    hook = await _expect(
        client.post("/v1/webhooks", json={"name": "x", "url": url}, headers=h), 201
    )
    base = f"/v1/webhooks/{hook['webhook_id']}"
    missing = "/v1/webhooks/wh_test_01JAAAAAAAAAAAAAAAAAAAAAAA"
    await _expect(client.get("/v1/webhooks", headers=h), 200)
    await _expect(client.get("/v1/webhooks?limit=0", headers=h), 400)
    await _expect(client.get(base, headers=h), 200)
    await _expect(client.get(missing, headers=h), 404)
    await _expect(client.patch(base, json={"name": "y"}, headers=h), 200)
    await _expect(client.patch(base, json={"url": "ftp://x"}, headers=h), 400)
    await _expect(client.post(f"{base}/rotate", headers=h), 200)
    await _expect(client.post(f"{missing}/rotate", headers=h), 404)
    ping = await _expect(client.post(f"{base}/test", headers=h), 200)
    await _expect(client.post(f"{missing}/test", headers=h), 404)
    await _expect(client.get(f"{base}/deliveries", headers=h), 200)
    await _expect(client.get(f"{base}/deliveries?limit=x", headers=h), 400)
    resend = f"{base}/deliveries/{ping['delivery_id']}/resend"
    await _expect(client.post(resend, headers=h), 200)
    await _expect(client.post(f"{base}/deliveries/whd_test_x/resend", headers=h), 404)
    await _expect(client.delete(base, headers=h), 200)
    await _expect(client.delete(base, headers=h), 404)


async def _expect(response_or_call: Any, status: int) -> dict[str, Any]:
    response = await response_or_call
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


async def _products(client: httpx.AsyncClient, h: dict[str, str]) -> dict[str, Any]:
    # A rate below 1e-6 once came back as "1E-7", which the Tier schema does not allow.
    tiers = [{"start": 0, "rate": "0.0000001", "type": "tokens_1m"}]
    product = await make_product(client, h, tiers=tiers)
    assert product["tiers"][0]["rate"] == "0.0000001"
    product = await make_product(client, h)
    await _expect(client.post("/v1/products", json={"name": "", "tiers": []}, headers=h), 400)
    await _expect(client.post("/v1/products", json={"name": "x", "tiers": tiers}), 401)
    too_big = b'{"name": "' + b"x" * 1_100_000 + b'"}'
    await _expect(
        client.post(
            "/v1/products", content=too_big, headers={**h, "content-type": "application/json"}
        ),
        413,
    )
    key = {**h, "Idempotency-Key": "create-chat"}
    await _expect(client.post("/v1/products", json={"name": "A", "tiers": tiers}, headers=key), 201)
    await _expect(client.post("/v1/products", json={"name": "B", "tiers": tiers}, headers=key), 409)

    listed = await _expect(client.get("/v1/products", params={"limit": "1"}, headers=h), 200)
    assert listed["has_more"] and listed["next_cursor"]
    await _expect(client.get("/v1/products", params={"limit": "0"}, headers=h), 400)
    product_url = f"/v1/products/{product['product_id']}"
    await _expect(client.get(product_url, headers=h), 200)
    await _expect(client.get("/v1/products/prd_test_missing", headers=h), 404)
    await _expect(client.put(product_url, json={"overdraft": "allow"}, headers=h), 200)
    await _expect(client.put(product_url, json={"overdraft": "maybe"}, headers=h), 400)
    await _expect(client.put("/v1/products/prd_test_missing", json={}, headers=h), 404)
    spare = await make_product(client, h)
    await _expect(client.delete(f"/v1/products/{spare['product_id']}", headers=h), 200)
    await _expect(client.delete("/v1/products/prd_test_missing", headers=h), 404)
    # Usage on this product is blocked by an empty wallet (402 below).
    await _expect(client.put(product_url, json={"overdraft": "block"}, headers=h), 200)
    return product


async def _connections(
    client: httpx.AsyncClient, h: dict[str, str], live: dict[str, str]
) -> dict[str, Any]:
    helpers = "/v1/test_helpers/connections"
    connection = await make_connection(
        client, h, balance="10", reference_id="user-1", phone="+14155550199", email="a@b.example"
    )
    await _expect(client.post(helpers, json={"balance": "-1"}, headers=h), 400)
    await _expect(client.post(helpers, json={}, headers=live), 403)
    fund = f"{helpers}/{connection['connection_id']}/fund"
    await _expect(client.post(fund, json={"amount": "5"}, headers=h), 200)
    await _expect(client.post(fund, json={"amount": "0"}, headers=h), 400)
    missing = f"{helpers}/con_test_missing/fund"
    await _expect(client.post(missing, json={"amount": "5"}, headers=h), 404)

    spare = await make_connection(client, h)
    listed = await _expect(client.get("/v1/connections", params={"limit": "1"}, headers=h), 200)
    assert listed["has_more"]
    await _expect(client.get("/v1/connections", params={"cursor": "nope"}, headers=h), 400)
    await _expect(client.get(f"/v1/connections/{connection['connection_id']}", headers=h), 200)
    await _expect(client.get("/v1/connections/con_test_missing", headers=h), 404)
    await _expect(client.delete(f"/v1/connections/{spare['connection_id']}", headers=h), 200)
    await _expect(client.delete("/v1/connections/con_test_missing", headers=h), 404)
    return connection


async def _requests(
    client: httpx.AsyncClient,
    h: dict[str, str],
    product: dict[str, Any],
    connection: dict[str, Any],
) -> None:
    metadata = {"metadata": {"user_id": "u1"}}
    await _expect(report(client, h, connection, product, "r-1", input_tokens=10, **metadata), 201)
    await _expect(report(client, h, connection, product, "r-1", input_tokens=10, **metadata), 200)
    await _expect(report(client, h, connection, product, "r-1", input_tokens=11), 409)
    await _expect(report(client, h, connection, {"product_secret": "ps_test_x"}, "r-2"), 404)
    await _expect(report(client, h, {"connection_secret": "cons_test_x"}, product, "r-3"), 401)
    await _expect(report(client, h, connection, product, "r-4", input_tokens=-1), 400)
    empty = await make_connection(client, h, balance="0")
    await _expect(report(client, h, empty, product, "r-5", input_tokens=10**9), 402)

    listed = await _expect(client.get("/v1/requests", headers=h), 200)
    assert listed["data"][0]["request_id"] == "r-1"
    filters = {"metadata_filters": json.dumps([["user_id", "u1"]])}
    await _expect(client.get("/v1/requests", params=filters, headers=h), 200)
    await _expect(client.get("/v1/requests", params={"metadata_filters": "[1]"}, headers=h), 400)
    await _expect(client.get("/v1/requests/r-1", headers=h), 200)
    await _expect(client.get("/v1/requests/r-missing", headers=h), 404)


async def _usage(client: httpx.AsyncClient, h: dict[str, str]) -> None:
    days = {"start": "2020-01-01T00:00:00+05:30", "end": "2020-01-03T00:00:00+05:30"}
    await _expect(client.get("/v1/usage", params=days, headers=h), 200)
    backwards = {**days, "end": "2019-12-31"}
    await _expect(client.get("/v1/usage", params=backwards, headers=h), 400)
    filtered = {"start": "2000-01-01", "end": "2000-12-31", "metadata_filters": '{"user_id": "u1"}'}
    await _expect(client.get("/v1/usage", params=filtered, headers=h), 200)
    await _expect(client.get("/v1/usage", params={"start": "yesterday"}, headers=h), 400)


async def _checkout_and_subscriptions(client: httpx.AsyncClient, h: dict[str, str]) -> None:
    sessions = "/v1/checkout_sessions"
    origin = {"origin_url": "https://shop.example"}
    session = await _expect(
        client.post(
            sessions, json={"checkout_mode": "onboarding", "reference_id": "u", **origin}, headers=h
        ),
        201,
    )
    await _expect(client.post(sessions, json={"checkout_mode": "topup", **origin}, headers=h), 400)
    missing = {"checkout_mode": "topup", "connection_id": "con_test_missing", **origin}
    await _expect(client.post(sessions, json=missing, headers=h), 404)
    await _expect(client.get(sessions, params={"reference_id": "u"}, headers=h), 200)
    await _expect(client.get(sessions, params={"limit": "101"}, headers=h), 400)
    await _expect(client.get(f"{sessions}/{session['checkout_session_id']}", headers=h), 200)
    await _expect(client.get(f"{sessions}/cs_test_missing", headers=h), 404)

    configs = "/v1/subscription-configs"
    plan = {"name": "Pro", "period_amount": "20", "rollover_type": "none"}
    config = await _expect(client.post(configs, json=plan, headers=h), 201)
    await _expect(client.post(configs, json={**plan, "period_amount": "0.001"}, headers=h), 400)
    await _expect(client.get(configs, headers=h), 200)
    await _expect(client.get(configs, headers={**h, "X-Lava-API-Version": "1999"}), 400)
    config_url = f"{configs}/{config['subscription_config_id']}"
    await _expect(client.put(config_url, json={"name": "Pro plus"}, headers=h), 200)
    await _expect(client.put(f"{configs}/sc_test_missing", json={"name": "x"}, headers=h), 404)
    active = await subscribe(client, h, config=config)
    await _expect(client.delete(config_url, headers=h), 409)
    await _expect(client.delete(f"{configs}/sc_test_missing", headers=h), 404)
    subscriptions = await _expect(client.get("/v1/active-subscriptions", headers=h), 200)
    assert subscriptions[0]["active_subscription_id"] == active["active_subscription_id"]
    await _expect(client.get("/v1/active-subscriptions", headers={}), 401)
    cancel = f"/v1/active-subscriptions/{active['active_subscription_id']}"
    await _expect(client.delete(cancel, headers=h), 200)
    await _expect(client.delete("/v1/active-subscriptions/as_test_missing", headers=h), 404)
    await _expect(client.get("/v1/active-subscriptions", headers=h), 200)  # with cancelled_at
    spare = await _expect(client.post(configs, json=plan, headers=h), 201)
    await _expect(client.delete(f"{configs}/{spare['subscription_config_id']}", headers=h), 200)


async def _forward(
    client: httpx.AsyncClient,
    merchant: MerchantKey,
    product: dict[str, Any],
    connection: dict[str, Any],
) -> None:
    """Answers of the provider (relayed, any shape) and Lava's own refusals, which must also be
    Lava's error envelope (the documented schema admits either, as a provider's error can have
    the same status)."""
    token = encode_forward_token(
        secret_key=merchant.secret_key,
        connection_secret=connection["connection_secret"],
        product_secret=product["product_secret"],
    )
    unmanaged = encode_forward_token(
        secret_key=merchant.secret_key,
        connection_secret=connection["connection_secret"],
        product_secret=product["product_secret"],
        provider_key="sk-own",
    )
    bearer = {"Authorization": f"Bearer {token}"}
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}

    async def lava_refuses(call: Any, status: int) -> None:
        LAVA_ERROR.validate_python(await _expect(call, status))

    for base in ("/v1/forward", "/v1/forward/models"):
        u = f"{OPENAI}/models" if base == "/v1/forward" else OPENAI
        await _expect(client.get(base, params={"u": u}, headers=bearer), 200)
        await lava_refuses(client.get(base, params={"u": "https://evil.example/v1"}), 400)
        await lava_refuses(client.get(base, params={"u": u}), 401)
        for method in ("PUT", "PATCH", "DELETE"):
            # Not a metered API: refused with the managed key, relayed with the token's own key.
            await lava_refuses(client.request(method, base, params={"u": u}, headers=bearer), 400)
            own = {"Authorization": f"Bearer {unmanaged}"}
            response = await client.request(method, base, params={"u": u}, headers=own)
            assert response.status_code == 405  # the fake provider's answer
        await lava_refuses(client.post(base, params={"u": u}, json=chat), 401)

    url = {"u": f"{OPENAI}/chat/completions"}
    await _expect(client.post("/v1/forward", params=url, json=chat, headers=bearer), 200)
    streamed = await client.post(
        "/v1/forward", params=url, json={**chat, "stream": True}, headers=bearer
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    provider_error = {**chat, "messages": [{"role": "user", "content": "fake-error-400"}]}
    relayed = await _expect(
        client.post("/v1/forward", params=url, json=provider_error, headers=bearer), 400
    )
    assert "status" not in relayed["error"]  # the provider's own shape, relayed as it is
    embeddings = {"model": "text-embedding-3-small", "input": "hi"}
    await _expect(
        client.post(
            "/v1/forward/embeddings", params={"u": OPENAI}, json=embeddings, headers=bearer
        ),
        200,
    )
    bad_metadata = {"x-lava-metadata": "[]", **bearer}
    await lava_refuses(client.post("/v1/forward", params=url, json=chat, headers=bad_metadata), 400)
    empty = await make_connection(client, merchant.headers, balance="0")
    broke = encode_forward_token(
        secret_key=merchant.secret_key,
        connection_secret=empty["connection_secret"],
        product_secret=product["product_secret"],
    )
    await lava_refuses(
        client.post(
            "/v1/forward", params=url, json=chat, headers={"Authorization": f"Bearer {broke}"}
        ),
        402,
    )
    await lava_refuses(
        client.post(
            "/v1/forward/responses",
            params={"u": OPENAI},
            json={"model": "gpt-4o-mini", "input": "Hi"},
            headers={"Authorization": f"Bearer {broke}"},
        ),
        402,
    )
    # The rewrite door: an Anthropic-shaped call to OpenAI, translated both ways.
    message = {**chat, "max_tokens": 10}
    rewrite = "/v1/rewrite/anthropic/api.openai.com"
    answer = await _expect(client.post(rewrite, json=message, headers={"x-api-key": token}), 200)
    assert answer["type"] == "message"
    await lava_refuses(client.post(rewrite, json=message), 401)
    await lava_refuses(
        client.post("/v1/rewrite/google/api.openai.com", json=message, headers=bearer), 400
    )
    # The gateway doors: the model picks the provider.
    answer = await _expect(client.post("/v1/messages", json=message, headers=bearer), 200)
    assert answer["type"] == "message"
    answer = await _expect(client.post("/v1/chat/completions", json=chat, headers=bearer), 200)
    assert answer["object"] == "chat.completion"
    for path in ("/v1/chat/completions", "/v1/messages"):
        await lava_refuses(client.post(path, json=message), 401)
        unknown = {**message, "model": "no-such-model"}
        await lava_refuses(client.post(path, json=unknown, headers=bearer), 404)
