"""What goes on the wire for every method of both clients: method, path, query, body, headers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from lavapayments import API_VERSION, AsyncLava, Lava
from lavapayments.types import (
    DeletedResponse,
    RestActiveSubscription,
    RestCheckoutSession,
    RestConnection,
    RestCreditBundle,
    RestCustomer,
    RestCustomerSubscriptionResponse,
    RestMeter,
    RestModel,
    RestPlan,
    RestProduct,
    RestRequest,
    RestSecretKey,
    RestSecretKeyCreate,
    RestSpendKey,
    RestSpendKeyCreated,
    RestSubscription,
    RestSubscriptionConfig,
    RestSubscriptionCreateResponse,
    RestUsage,
    RestWebhook,
    RestWebhookCreate,
    RestWebhookDelivery,
    SuccessResponse,
)

from . import payloads
from .conftest import call

Client = Lava | AsyncLava


@dataclass
class Case:
    invoke: Callable[[Client], Any]
    method: str
    path: str
    answer: object
    result: type  # of the answer, or of its items for lists and pages
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    status: int = 200


CASES: dict[str, Case] = {
    "checkout_sessions.create": Case(
        lambda c: c.checkout_sessions.create(
            checkout_mode="topup",
            origin_url="https://app.example.com",
            connection_id="con_1",
            reference_id="user_1",
        ),
        "POST",
        "/v1/checkout_sessions",
        payloads.checkout_session(),
        RestCheckoutSession,
        body={
            "checkout_mode": "topup",
            "origin_url": "https://app.example.com",
            "reference_id": "user_1",
            "connection_id": "con_1",
        },
        status=201,
    ),
    "checkout_sessions.list": Case(
        lambda c: c.checkout_sessions.list(cursor="cs_9", limit=5, reference_id="user_1"),
        "GET",
        "/v1/checkout_sessions",
        payloads.page([payloads.checkout_session()]),
        RestCheckoutSession,
        query={"cursor": "cs_9", "limit": "5", "reference_id": "user_1"},
    ),
    "checkout_sessions.retrieve": Case(
        lambda c: c.checkout_sessions.retrieve("cs_1"),
        "GET",
        "/v1/checkout_sessions/cs_1",
        payloads.checkout_session(),
        RestCheckoutSession,
    ),
    "connections.list": Case(
        lambda c: c.connections.list(limit=100, reference_id="user_1"),
        "GET",
        "/v1/connections",
        payloads.page([payloads.connection()]),
        RestConnection,
        query={"limit": "100", "reference_id": "user_1"},
    ),
    "connections.retrieve": Case(
        lambda c: c.connections.retrieve("con_1"),
        "GET",
        "/v1/connections/con_1",
        payloads.connection(),
        RestConnection,
    ),
    "connections.delete": Case(
        lambda c: c.connections.delete("con_1"),
        "DELETE",
        "/v1/connections/con_1",
        {"success": True},
        SuccessResponse,
    ),
    "requests.list": Case(
        lambda c: c.requests.list(
            cursor="req_9",
            limit=3,
            connection_id="con_1",
            product_id="prd_1",
            metadata_filters={"user_id": "123", "feature": "chat"},
        ),
        "GET",
        "/v1/requests",
        payloads.page([payloads.request()]),
        RestRequest,
        query={
            "cursor": "req_9",
            "limit": "3",
            "connection_id": "con_1",
            "product_id": "prd_1",
            "metadata_filters": '[["user_id","123"],["feature","chat"]]',
        },
    ),
    "requests.create": Case(
        lambda c: c.requests.create(
            request_id="my_req_1",
            connection_secret="cons_test_1",
            product_secret="ps_test_1",
            metadata={"user_id": "123"},
            input_tokens=10,
            output_tokens=20,
            input_characters=0,
            output_characters=0,
            input_seconds=1,
            output_seconds=2,
        ),
        "POST",
        "/v1/requests",
        payloads.request(),
        RestRequest,
        body={
            "request_id": "my_req_1",
            "connection_secret": "cons_test_1",
            "product_secret": "ps_test_1",
            "metadata": {"user_id": "123"},
            "input_tokens": 10,
            "output_tokens": 20,
            "input_characters": 0,
            "output_characters": 0,
            "input_seconds": 1,
            "output_seconds": 2,
        },
        status=201,
    ),
    "requests.retrieve": Case(
        lambda c: c.requests.retrieve("my_req_1"),
        "GET",
        "/v1/requests/my_req_1",
        payloads.request(),
        RestRequest,
    ),
    "usage.retrieve": Case(
        lambda c: c.usage.retrieve(
            start="2025-05-01T00:00:00Z",
            end=datetime(2025, 5, 31, tzinfo=timezone(timedelta(hours=2))),
            connection_id="con_1",
            product_id="prd_1",
            metadata_filters=[("user_id", "123")],
        ),
        "GET",
        "/v1/usage",
        payloads.usage(),
        RestUsage,
        query={
            "start": "2025-05-01T00:00:00Z",
            "end": "2025-05-31T00:00:00+02:00",
            "connection_id": "con_1",
            "product_id": "prd_1",
            "metadata_filters": '[["user_id","123"]]',
        },
    ),
    "subscriptions.list_configs": Case(
        lambda c: c.subscriptions.list_configs(),
        "GET",
        "/v1/subscription-configs",
        [payloads.subscription_config()],
        RestSubscriptionConfig,
    ),
    "subscriptions.create_config": Case(
        lambda c: c.subscriptions.create_config(
            name="Pro", period_amount=Decimal("25.00"), rollover_type="full"
        ),
        "POST",
        "/v1/subscription-configs",
        payloads.subscription_config(),
        RestSubscriptionConfig,
        body={"name": "Pro", "period_amount": "25.00", "rollover_type": "full"},
        status=201,
    ),
    "subscriptions.update_config": Case(
        lambda c: c.subscriptions.update_config("sc_1", period_amount="30"),
        "PUT",
        "/v1/subscription-configs/sc_1",
        payloads.subscription_config(),
        RestSubscriptionConfig,
        body={"period_amount": "30"},
    ),
    "subscriptions.delete_config": Case(
        lambda c: c.subscriptions.delete_config("sc_1"),
        "DELETE",
        "/v1/subscription-configs/sc_1",
        {"success": True},
        SuccessResponse,
    ),
    "subscriptions.list_active_subscriptions": Case(
        lambda c: c.subscriptions.list_active_subscriptions(),
        "GET",
        "/v1/active-subscriptions",
        [payloads.active_subscription()],
        RestActiveSubscription,
    ),
    "subscriptions.cancel_active_subscription": Case(
        lambda c: c.subscriptions.cancel_active_subscription("as_1"),
        "DELETE",
        "/v1/active-subscriptions/as_1",
        {"success": True},
        SuccessResponse,
    ),
    "webhooks.list": Case(
        lambda c: c.webhooks.list(cursor="wh_9", limit=5),
        "GET",
        "/v1/webhooks",
        payloads.page([payloads.webhook()]),
        RestWebhook,
        query={"cursor": "wh_9", "limit": "5"},
    ),
    "webhooks.retrieve": Case(
        lambda c: c.webhooks.retrieve("wh_1"),
        "GET",
        "/v1/webhooks/wh_1",
        payloads.webhook(),
        RestWebhook,
    ),
    "webhooks.create": Case(
        lambda c: c.webhooks.create(
            name="Backend", url="https://hooks.example.com/lava", enabled_events=["ping"]
        ),
        "POST",
        "/v1/webhooks",
        payloads.webhook(webhook_secret="whsec_test_x"),
        RestWebhookCreate,
        body={
            "name": "Backend",
            "url": "https://hooks.example.com/lava",
            "enabled_events": ["ping"],
        },
        status=201,
    ),
    "webhooks.update": Case(
        lambda c: c.webhooks.update("wh_1", name="Renamed", status="disabled"),
        "PATCH",
        "/v1/webhooks/wh_1",
        payloads.webhook(name="Renamed", status="disabled"),
        RestWebhook,
        body={"name": "Renamed", "status": "disabled"},
    ),
    "webhooks.delete": Case(
        lambda c: c.webhooks.delete("wh_1"),
        "DELETE",
        "/v1/webhooks/wh_1",
        {"id": "wh_1", "deleted": True},
        DeletedResponse,
    ),
    "webhooks.rotate_secret": Case(
        lambda c: c.webhooks.rotate_secret("wh_1"),
        "POST",
        "/v1/webhooks/wh_1/rotate",
        payloads.webhook(webhook_secret="whsec_test_y"),
        RestWebhookCreate,
    ),
    "webhooks.list_deliveries": Case(
        lambda c: c.webhooks.list_deliveries("wh_1", limit=2),
        "GET",
        "/v1/webhooks/wh_1/deliveries",
        payloads.page([payloads.webhook_delivery()]),
        RestWebhookDelivery,
        query={"limit": "2"},
    ),
    "webhooks.resend_delivery": Case(
        lambda c: c.webhooks.resend_delivery("wh_1", "whd_1"),
        "POST",
        "/v1/webhooks/wh_1/deliveries/whd_1/resend",
        payloads.webhook_delivery(status="pending"),
        RestWebhookDelivery,
    ),
    "webhooks.test": Case(
        lambda c: c.webhooks.test("wh_1"),
        "POST",
        "/v1/webhooks/wh_1/test",
        payloads.webhook_delivery(status="pending"),
        RestWebhookDelivery,
    ),
    "customers.create": Case(
        lambda c: c.customers.create(reference_id="user-1", name="Ada", metadata={"k": "v"}),
        "POST",
        "/v1/customers",
        payloads.customer(),
        RestCustomer,
        body={"reference_id": "user-1", "name": "Ada", "metadata": {"k": "v"}},
        status=201,
    ),
    "customers.list": Case(
        lambda c: c.customers.list(limit=2, cursor="con_0"),
        "GET",
        "/v1/customers",
        payloads.page([payloads.customer()]),
        RestCustomer,
        query={"limit": "2", "cursor": "con_0"},
    ),
    "customers.retrieve": Case(
        lambda c: c.customers.retrieve("con_1"),
        "GET",
        "/v1/customers/con_1",
        payloads.customer(),
        RestCustomer,
    ),
    "customers.update": Case(
        lambda c: c.customers.update("con_1", email=None, name="Ada"),
        "PATCH",
        "/v1/customers/con_1",
        payloads.customer(),
        RestCustomer,
        body={"email": None, "name": "Ada"},  # None is sent: it clears the field
    ),
    "customers.get_subscription": Case(
        lambda c: c.customers.get_subscription("con_1"),
        "GET",
        "/v1/customers/con_1/subscription",
        {"subscription": None},
        RestCustomerSubscriptionResponse,
    ),
    "customers.delete": Case(
        lambda c: c.customers.delete("con_1"),
        "DELETE",
        "/v1/customers/con_1",
        {"success": True},
        SuccessResponse,
    ),
    "meters.list": Case(
        lambda c: c.meters.list(limit=5),
        "GET",
        "/v1/meters",
        payloads.page([payloads.meter()]),
        RestMeter,
        query={"limit": "5"},
    ),
    "meters.retrieve": Case(
        lambda c: c.meters.retrieve("prd_1"), "GET", "/v1/meters/prd_1", payloads.meter(), RestMeter
    ),
    "meters.create": Case(
        lambda c: c.meters.create(
            name="Chat",
            rate_type="fixed",
            tier_type="tokens_1m",
            tiers=[{"start": 0, "rate": Decimal("2.5")}, {"start": "1000", "rate": "1"}],
        ),
        "POST",
        "/v1/meters",
        payloads.meter(),
        RestMeter,
        body={
            "name": "Chat",
            "rate_type": "fixed",
            "tier_type": "tokens_1m",
            "tiers": [{"start": "0", "rate": "2.5"}, {"start": "1000", "rate": "1"}],
        },
        status=201,
    ),
    "meters.update": Case(
        lambda c: c.meters.update("prd_1", name="Renamed"),
        "PATCH",
        "/v1/meters/prd_1",
        payloads.meter(name="Renamed"),
        RestMeter,
        body={"name": "Renamed"},
    ),
    "meters.delete": Case(
        lambda c: c.meters.delete("prd_1"),
        "DELETE",
        "/v1/meters/prd_1",
        {"id": "prd_1", "deleted": True},
        DeletedResponse,
    ),
    "secret_keys.list": Case(
        lambda c: c.secret_keys.list(),
        "GET",
        "/v1/secret_keys",
        payloads.page([payloads.secret_key()]),
        RestSecretKey,
    ),
    "secret_keys.create": Case(
        lambda c: c.secret_keys.create(name="CI"),
        "POST",
        "/v1/secret_keys",
        payloads.secret_key(secret_key="aks_test_xabcd"),
        RestSecretKeyCreate,
        body={"name": "CI"},
        status=201,
    ),
    "secret_keys.delete": Case(
        lambda c: c.secret_keys.delete("key_1"),
        "DELETE",
        "/v1/secret_keys/key_1",
        {"id": "key_1", "deleted": True},
        DeletedResponse,
    ),
    "spend_keys.create": Case(
        lambda c: c.spend_keys.create(
            name="Agent",
            spend_limit={"amount": Decimal("0.05"), "cycle": "daily"},
            request_limit={"count": 10, "cycle": "total"},
            rate_limit={"rpm": 60},
            allowed_models=["gpt-4o-mini"],
            expires_at=datetime(2031, 1, 1, tzinfo=timezone.utc),
            customer_id="con_1",
            meter_slug="chat",
        ),
        "POST",
        "/v1/spend_keys",
        payloads.spend_key(key="lava_sk_abcdefghxyz"),
        RestSpendKeyCreated,
        body={
            "name": "Agent",
            "allowed_models": ["gpt-4o-mini"],
            "spend_limit": {"amount": "0.05", "cycle": "daily"},
            "request_limit": {"count": 10, "cycle": "total"},
            "rate_limit": {"rpm": 60},
            "expires_at": "2031-01-01T00:00:00+00:00",
            "customer_id": "con_1",
            "meter_slug": "chat",
        },
        status=201,
    ),
    "spend_keys.list": Case(
        lambda c: c.spend_keys.list(limit=5),
        "GET",
        "/v1/spend_keys",
        payloads.page([payloads.spend_key()]),
        RestSpendKey,
        query={"limit": "5"},
    ),
    "spend_keys.retrieve": Case(
        lambda c: c.spend_keys.retrieve("spk_1"),
        "GET",
        "/v1/spend_keys/spk_1",
        payloads.spend_key(),
        RestSpendKey,
    ),
    "spend_keys.update": Case(
        lambda c: c.spend_keys.update(
            "spk_1", status="paused", spend_limit=None, allowed_providers=["openai"]
        ),
        "PUT",
        "/v1/spend_keys/spk_1",
        payloads.spend_key(status="paused", spend_limit=None),
        RestSpendKey,
        body={"status": "paused", "spend_limit": None, "allowed_providers": ["openai"]},
    ),
    "spend_keys.revoke": Case(
        lambda c: c.spend_keys.revoke("spk_1"),
        "DELETE",
        "/v1/spend_keys/spk_1",
        {"success": True},
        SuccessResponse,
    ),
    "spend_keys.rotate": Case(
        lambda c: c.spend_keys.rotate("spk_1"),
        "POST",
        "/v1/spend_keys/spk_1/rotate",
        payloads.spend_key(key="lava_sk_newnewnew"),
        RestSpendKeyCreated,
    ),
    "models.list": Case(
        lambda c: c.models.list(),
        "GET",
        "/v1/models",
        {"object": "list", "data": [{"id": "m", "object": "model", "created": 0, "owned_by": "x"}]},
        RestModel,
    ),
    "request": Case(
        lambda c: c.request("PATCH", "products/prd_1", data={"name": "x"}, query={"a": "b"}),
        "PATCH",
        "/v1/products/prd_1",
        {"product_id": "prd_1"},
        dict,
        query={"a": "b"},
        body={"name": "x"},
    ),
    "current-era requests filters": Case(
        lambda c: c.requests.list(customer_id="con_1", meter_id="prd_1"),
        "GET",
        "/v1/requests",
        payloads.page([payloads.request()]),
        RestRequest,
        query={"customer_id": "con_1", "meter_id": "prd_1"},
    ),
    "current-era usage filters": Case(
        lambda c: c.usage.retrieve(start="2026-01-01T00:00:00Z", customer_id="con_1", meter_id="m"),
        "GET",
        "/v1/usage",
        payloads.usage(),
        RestUsage,
        query={"start": "2026-01-01T00:00:00Z", "customer_id": "con_1", "meter_id": "m"},
    ),
    "current-era request creation": Case(
        lambda c: c.requests.create(
            request_id="job_1", customer_id="con_1", meter_slug="chat", input_tokens=3
        ),
        "POST",
        "/v1/requests",
        payloads.request(),
        RestRequest,
        body={
            "request_id": "job_1",
            "customer_id": "con_1",
            "meter_slug": "chat",
            "input_tokens": 3,
        },
        status=201,
    ),
    "current-era checkout": Case(
        lambda c: c.checkout_sessions.create(
            checkout_mode="credit_bundle",
            origin_url="https://app.example.com",
            customer_id="con_1",
            plan_id="sc_1",
            credit_bundle_id="cb_1",
        ),
        "POST",
        "/v1/checkout_sessions",
        payloads.checkout_session(checkout_mode="credit_bundle", customer_id="con_1"),
        RestCheckoutSession,
        body={
            "checkout_mode": "credit_bundle",
            "origin_url": "https://app.example.com",
            "customer_id": "con_1",
            "plan_id": "sc_1",
            "credit_bundle_id": "cb_1",
        },
        status=201,
    ),
    # -- products (our extension), credit bundles, plans and current-era subscriptions --
    "products.create": Case(
        lambda c: c.products.create(
            name="Chat",
            tiers=[{"start": 0, "rate": Decimal("2.50"), "type": "tokens_1m"}],
            overdraft="allow",
        ),
        "POST",
        "/v1/products",
        payloads.product(),
        RestProduct,
        body={
            "name": "Chat",
            "tiers": [{"start": 0, "rate": "2.50", "type": "tokens_1m"}],
            "overdraft": "allow",
        },
        status=201,
    ),
    "products.list": Case(
        lambda c: c.products.list(limit=5, cursor="prd_0"),
        "GET",
        "/v1/products",
        payloads.page([payloads.product()]),
        RestProduct,
        query={"limit": "5", "cursor": "prd_0"},
    ),
    "products.retrieve": Case(
        lambda c: c.products.retrieve("prd_1"),
        "GET",
        "/v1/products/prd_1",
        payloads.product(),
        RestProduct,
    ),
    "products.update": Case(
        lambda c: c.products.update("prd_1", name="New", meter_slug="new"),
        "PUT",
        "/v1/products/prd_1",
        payloads.product(),
        RestProduct,
        body={"name": "New", "meter_slug": "new"},
    ),
    "products.delete": Case(
        lambda c: c.products.delete("prd_1"),
        "DELETE",
        "/v1/products/prd_1",
        {"success": True},
        SuccessResponse,
    ),
    "credit_bundles.list": Case(
        lambda c: c.credit_bundles.list(plan_id="sc_1", limit=2),
        "GET",
        "/v1/credit_bundles",
        payloads.page([payloads.credit_bundle()]),
        RestCreditBundle,
        query={"plan_id": "sc_1", "limit": "2"},
    ),
    "credit_bundles.retrieve": Case(
        lambda c: c.credit_bundles.retrieve("cb_1"),
        "GET",
        "/v1/credit_bundles/cb_1",
        payloads.credit_bundle(),
        RestCreditBundle,
    ),
    "subscriptions.list_plans": Case(
        lambda c: c.subscriptions.list_plans(limit=3),
        "GET",
        "/v1/plans",
        payloads.page([payloads.plan()]),
        RestPlan,
        query={"limit": "3"},
    ),
    "subscriptions.retrieve_plan": Case(
        lambda c: c.subscriptions.retrieve_plan("sc_1"),
        "GET",
        "/v1/plans/sc_1",
        payloads.plan(),
        RestPlan,
    ),
    "subscriptions.create_plan": Case(
        lambda c: c.subscriptions.create_plan(
            name="Pro",
            period_amount=Decimal("25.00"),
            billing_interval="month",
            included_credit="20",
            default_auto_top_up_bundle_index=None,
            meter_ids=["prd_1"],
            credit_bundles=[{"name": "Top-up", "cost": "10", "credit_amount": Decimal("12.5")}],
        ),
        "POST",
        "/v1/plans",
        payloads.plan(),
        RestPlan,
        body={
            "name": "Pro",
            "period_amount": "25.00",
            "billing_interval": "month",
            "included_credit": "20",
            "default_auto_top_up_bundle_index": None,
            "meter_ids": ["prd_1"],
            "credit_bundles": [{"name": "Top-up", "cost": "10", "credit_amount": "12.5"}],
        },
    ),
    "subscriptions.update_plan": Case(
        lambda c: c.subscriptions.update_plan(
            "sc_1",
            name="Pro-2",
            default_auto_top_up_bundle_id=None,
            credit_bundles=[
                {
                    "credit_bundle_id": "cb_1",
                    "name": "x",
                    "cost": "1",
                    "credit_amount": "1",
                    "is_deleted": True,
                },
            ],
        ),
        "PATCH",
        "/v1/plans/sc_1",
        payloads.plan(),
        RestPlan,
        body={
            "name": "Pro-2",
            "default_auto_top_up_bundle_id": None,
            "credit_bundles": [
                {
                    "credit_bundle_id": "cb_1",
                    "name": "x",
                    "cost": "1",
                    "credit_amount": "1",
                    "is_deleted": True,
                },
            ],
        },
    ),
    "subscriptions.delete_plan": Case(
        lambda c: c.subscriptions.delete_plan("sc_1"),
        "DELETE",
        "/v1/plans/sc_1",
        {"id": "sc_1", "deleted": True},
        DeletedResponse,
    ),
    "subscriptions.create": Case(
        lambda c: c.subscriptions.create(customer_id="con_1", plan_id="sc_free"),
        "POST",
        "/v1/subscriptions",
        {"subscription": payloads.subscription_base()},
        RestSubscriptionCreateResponse,
        body={"customer_id": "con_1", "plan_id": "sc_free"},
        status=201,
    ),
    "subscriptions.list": Case(
        lambda c: c.subscriptions.list(status="all", customer_id="con_1", limit=10),
        "GET",
        "/v1/subscriptions",
        payloads.page([payloads.subscription()]),
        RestSubscription,
        query={"status": "all", "customer_id": "con_1", "limit": "10"},
    ),
    "subscriptions.update": Case(
        lambda c: c.subscriptions.update("as_1", auto_top_up_bundle_id=None),
        "PATCH",
        "/v1/subscriptions/as_1",
        {"success": True},
        SuccessResponse,
        body={"auto_top_up_bundle_id": None},
    ),
    "subscriptions.cancel": Case(
        lambda c: c.subscriptions.cancel("as_1"),
        "DELETE",
        "/v1/subscriptions/as_1",
        {"success": True},
        SuccessResponse,
    ),
}


class Recorder:
    def __init__(self, answer: object = None, status: int = 200) -> None:
        self.answer, self.status = answer, status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.answer, headers={"x-lava-request-id": "req_x"})

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


@pytest.mark.parametrize("name", list(CASES))
async def test_method_sends_the_contract_request(
    name: str, make_client: Callable[..., Client]
) -> None:
    case = CASES[name]
    recorder = Recorder(case.answer, case.status)
    client = make_client(recorder, secret_key="aks_test_wire")

    result = await call(case.invoke(client))

    assert len(recorder.requests) == 1
    sent = recorder.last
    assert sent.method == case.method
    assert sent.url.scheme == "http" and sent.url.host == "lava.test"
    assert sent.url.path == case.path
    assert dict(sent.url.params) == case.query
    assert sent.headers["authorization"] == "Bearer aks_test_wire"
    assert sent.headers["x-lava-api-version"] == API_VERSION == "2025-04-28.v1"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["user-agent"].startswith("lavapayments-python/")
    if case.body is None:
        assert sent.content == b""
    else:
        assert json.loads(sent.content) == case.body
        assert b" " not in sent.content.replace(b"https://", b"")  # compact, like JSON.stringify
    if case.method == "POST":
        uuid.UUID(sent.headers["idempotency-key"])
    else:
        assert "idempotency-key" not in sent.headers

    items = result if isinstance(result, list) else getattr(result, "data", None)
    if items is None:
        assert isinstance(result, case.result)
    else:  # a bare array or a page: the item type
        assert len(items) == 1
        assert isinstance(items[0], case.result)


async def test_seed_methods_are_all_covered() -> None:
    """The table above walks every method of the seed's resources (snake_cased), and of
    webhooks."""
    seed = {
        "checkout_sessions": {"create", "list", "retrieve"},
        "connections": {"list", "retrieve", "delete"},
        "requests": {"list", "create", "retrieve"},
        "usage": {"retrieve"},
        "subscriptions": {
            "list_configs",
            "create_config",
            "update_config",
            "delete_config",
            "list_active_subscriptions",
            "cancel_active_subscription",
            # the current API's, grouped as the Node SDK 11.x groups them
            "list_plans",
            "retrieve_plan",
            "create_plan",
            "update_plan",
            "delete_plan",
            "create",
            "list",
            "update",
            "cancel",
        },
        # The current SDK's resources (webhooks with the server's extensions).
        "customers": {"create", "list", "retrieve", "update", "get_subscription", "delete"},
        "meters": {"list", "retrieve", "create", "update", "delete"},
        "secret_keys": {"list", "create", "delete"},
        "spend_keys": {"create", "list", "retrieve", "update", "revoke", "rotate"},
        "models": {"list"},
        "products": {"create", "list", "retrieve", "update", "delete"},
        "credit_bundles": {"list", "retrieve"},
        "webhooks": {
            "list",
            "retrieve",
            "create",
            "update",
            "delete",
            "rotate_secret",
            "list_deliveries",
            "resend_delivery",
            "test",
        },
    }
    covered = {tuple(name.split(".")) for name in CASES if "." in name}
    assert covered == {(r, m) for r, methods in seed.items() for m in methods}


async def test_list_pages_are_typed(make_client: Callable[..., Client]) -> None:
    client = make_client(Recorder(payloads.page([payloads.connection()])))
    page = await call(client.connections.list())
    assert isinstance(page.data[0], RestConnection)
    assert page.has_more is False and page.next_cursor is None


async def test_per_call_options(make_client: Callable[..., Client]) -> None:
    recorder = Recorder(payloads.checkout_session())
    client = make_client(recorder)
    await call(
        client.checkout_sessions.create(
            checkout_mode="onboarding",
            origin_url="https://app.example.com",
            timeout=3.5,
            extra_headers={"X-Trace": "t1", "X-Lava-API-Version": "2025-04-21.v1"},
            extra_query={"debug": "1"},
            extra_body={"provider": "openai"},
            idempotency_key="my-key",
        )
    )
    sent = recorder.last
    assert sent.headers["x-trace"] == "t1"
    assert sent.headers["x-lava-api-version"] == "2025-04-21.v1"  # extra headers win
    assert sent.headers["idempotency-key"] == "my-key"
    assert dict(sent.url.params) == {"debug": "1"}
    assert json.loads(sent.content)["provider"] == "openai"
    assert sent.extensions["timeout"] == httpx.Timeout(3.5).as_dict()


async def test_client_timeout_applies_and_none_disables(make_client: Callable[..., Client]) -> None:
    recorder = Recorder({"success": True})
    client = make_client(recorder, timeout=7)
    await call(client.connections.delete("con_1"))
    assert recorder.last.extensions["timeout"] == httpx.Timeout(7).as_dict()
    await call(client.connections.delete("con_1", timeout=None))
    assert recorder.last.extensions["timeout"] == httpx.Timeout(None).as_dict()


async def test_ids_are_escaped_and_must_not_be_empty(make_client: Callable[..., Client]) -> None:
    recorder = Recorder(payloads.request())
    client = make_client(recorder)
    await call(client.requests.retrieve("a/b c?d"))
    assert recorder.last.url.raw_path == b"/v1/requests/a%2Fb%20c%3Fd"
    with pytest.raises(ValueError, match="request_id"):
        await call(client.requests.retrieve(""))


async def test_empty_metadata_filters_still_sent(make_client: Callable[..., Client]) -> None:
    recorder = Recorder(payloads.page([]))
    client = make_client(recorder)
    await call(client.requests.list(metadata_filters={}))
    assert recorder.last.url.params["metadata_filters"] == "[]"


async def test_base_url_without_trailing_slash_and_paths(
    make_client: Callable[..., Client],
) -> None:
    recorder = Recorder({})
    client = make_client(recorder, base_url="http://127.0.0.1:8787/v1")
    assert client.base_url == "http://127.0.0.1:8787/v1/"
    await call(client.request("GET", "/connections"))
    assert str(recorder.last.url) == "http://127.0.0.1:8787/v1/connections"
    await call(client.request("GET", "forward?u=https://api.openai.com/v1"))
    assert str(recorder.last.url) == "http://127.0.0.1:8787/v1/forward?u=https://api.openai.com/v1"
