"""The fake Stripe, driven by the official `stripe` library over real HTTP; its webhooks received
by a small server and checked with the real `stripe.Webhook.construct_event`."""

from __future__ import annotations

import json
import selectors
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.e2e.servers import LAVA, clean_env, free_port

from lava_server.testing import ServerThread, serve_in_thread
from lava_server.testing.fake_stripe import FakeStripe, create_fake_stripe_app, sign

SECRET = "whsec_test_fake_secret"
PUBLISHABLE = "pk_test_fakepublishable"
CARD = {"exp_month": 12, "exp_year": 2034, "cvc": "123"}


class Receiver:
    """A merchant's webhook endpoint: keeps each request; fails the next `fail_next` ones."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.fail_next = 0
        self.lock = threading.Lock()

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.received.append((body, dict(request.headers)))
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response("down for a moment", 500)
        return Response('{"received": true}', 200, media_type="application/json")

    def events(self) -> list[Any]:
        """The events received, each checked with Stripe's own signature verification."""
        return [
            stripe.Webhook.construct_event(body, headers["stripe-signature"], SECRET)
            for body, headers in self.received
        ]

    def types(self) -> list[str]:
        return [event.type for event in self.events()]


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, ServerThread]]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])
    with serve_in_thread(app) as server:
        yield receiver, server


@pytest.fixture(scope="module")
def fake_stripe_server(receiver: tuple[Receiver, ServerThread]) -> Iterator[ServerThread]:
    app = create_fake_stripe_app(
        webhook_url=receiver[1].url + "/hook",
        webhook_secret=SECRET,
        publishable_key=PUBLISHABLE,
        retry_seconds=0.05,
    )
    with serve_in_thread(app) as server:
        yield server


@pytest.fixture
def url(fake_stripe_server: ServerThread, receiver: tuple[Receiver, ServerThread]) -> str:
    httpx.post(fake_stripe_server.url + "/_fake/reset").raise_for_status()
    httpx.post(
        fake_stripe_server.url + "/_fake/webhook",
        json={"url": receiver[1].url + "/hook", "secret": SECRET, "max_attempts": 4},
    ).raise_for_status()
    receiver[0].received.clear()
    receiver[0].fail_next = 0
    return fake_stripe_server.url


@pytest.fixture
def hooks(receiver: tuple[Receiver, ServerThread]) -> Receiver:
    return receiver[0]


@pytest.fixture
def fake(fake_stripe_server: ServerThread) -> FakeStripe:
    fake: FakeStripe = fake_stripe_server.app.state.fake_stripe  # type: ignore[attr-defined]
    return fake


def client_for(url: str, key: str = "sk_test_fakesecret") -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": url}, max_network_retries=0)


@pytest.fixture
def client(url: str) -> stripe.StripeClient:
    return client_for(url)


@pytest.fixture
def browser_client(url: str) -> stripe.StripeClient:
    """What Stripe.js can do: the publishable key."""
    return client_for(url, PUBLISHABLE)


def control(base: str, path: str, **body: Any) -> Any:
    answer = httpx.post(base + "/_fake" + path, json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def drain(url: str) -> None:
    assert control(url, "/drain", timeout=10) == {"pending": 0}


def card_pm(client: stripe.StripeClient, number: str) -> Any:
    return client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, **CARD}}  # type: ignore[typeddict-item]
    )


def pay(client: stripe.StripeClient, number: str, **params: Any) -> Any:
    pm = card_pm(client, number)
    return client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "payment_method": pm.id,
            "confirm": True,
            **params,
        }
    )


# ------------------------------------------------------------------------------------------------
# Keys, customers, payment methods
# ------------------------------------------------------------------------------------------------


def test_keys_are_checked_and_set_the_mode(url: str) -> None:
    with pytest.raises(stripe.AuthenticationError, match=r"Invalid API Key provided: \*+3456"):
        client_for(url, "xx_test_123456").v1.customers.create()
    with pytest.raises(stripe.PermissionError, match="publishable API key"):
        client_for(url, PUBLISHABLE).v1.customers.create()
    with pytest.raises(stripe.AuthenticationError, match="Invalid API Key"):
        client_for(url, "pk_test_someoneelses").v1.payment_methods.create(
            params={"type": "card", "card": {"number": "4242424242424242", **CARD}}  # type: ignore[typeddict-item]
        )
    answer = httpx.post(url + "/v1/customers")
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert "You did not provide an API key" in answer.json()["error"]["message"]

    test = client_for(url).v1.customers.create(params={"email": "t@example.com"})
    live = client_for(url, "sk_live_fakesecret").v1.customers.create()
    assert (test.livemode, live.livemode) == (False, True)
    assert test.id.startswith("cus_")
    with pytest.raises(stripe.InvalidRequestError, match="exists in test mode") as caught:
        client_for(url, "sk_live_fakesecret").v1.customers.retrieve(test.id)
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"


def test_customers(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(
        params={"email": "ada@example.com", "name": "Ada", "metadata": {"lava": "con_1", "x": "y"}}
    )
    assert client.v1.customers.retrieve(customer.id).email == "ada@example.com"
    updated = client.v1.customers.update(
        customer.id, params={"name": "Ada L.", "metadata": {"x": ""}}
    )
    assert updated.name == "Ada L."
    assert updated.metadata.to_dict() == {"lava": "con_1"}
    pm = card_pm(client, "4242424242424242")
    client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    updated = client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": pm.id}}
    )
    assert updated.invoice_settings.default_payment_method == pm.id
    listed = client.v1.customers.list(params={"email": "ada@example.com"})
    assert [c.id for c in listed.data] == [customer.id]
    with pytest.raises(stripe.InvalidRequestError, match="Received unknown parameter: nmae"):
        client.v1.customers.create(params={"nmae": "typo"})  # type: ignore[typeddict-unknown-key]


def test_payment_methods_from_the_publishable_key_attach_list_detach(
    url: str, client: stripe.StripeClient, browser_client: stripe.StripeClient, hooks: Receiver
) -> None:
    pm = card_pm(browser_client, "4242 4242 4242 4242")
    assert pm.id.startswith("pm_")
    assert (pm.card.brand, pm.card.last4, pm.card.exp_year, pm.customer) == (
        "visa",
        "4242",
        2034,
        None,
    )
    customer = client.v1.customers.create()
    attached = client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    assert attached.customer == customer.id
    listed = client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"})
    assert [p.id for p in listed.data] == [pm.id]
    assert [p.id for p in client.v1.customers.payment_methods.list(customer.id).data] == [pm.id]
    detached = client.v1.payment_methods.detach(pm.id)
    assert detached.customer is None
    assert client.v1.payment_methods.list(params={"customer": customer.id}).data == []
    with pytest.raises(stripe.InvalidRequestError, match="not attached"):
        client.v1.payment_methods.detach(pm.id)

    drain(url)
    events = hooks.events()
    assert [e.type for e in events] == [
        "customer.created",
        "payment_method.attached",
        "payment_method.detached",
    ]
    detached_event = events[-1]
    assert detached_event.data.object.id == pm.id
    assert detached_event.data.previous_attributes.customer == customer.id


def test_card_numbers_are_checked(browser_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as caught:
        card_pm(browser_client, "4242424242424241")
    assert caught.value.code == "incorrect_number"
    with pytest.raises(stripe.CardError) as caught:
        browser_client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {
                    "number": "4242424242424242",
                    "exp_month": 1,  # type: ignore[typeddict-item]
                    "exp_year": 2001,
                },
            }
        )
    assert caught.value.code == "invalid_expiry_year"
    with pytest.raises(
        stripe.InvalidRequestError, match=r"Missing required param: card\[exp_month\]"
    ):
        browser_client.v1.payment_methods.create(
            params={"type": "card", "card": {"number": "4242424242424242"}}  # type: ignore[typeddict-item]
        )


# ------------------------------------------------------------------------------------------------
# PaymentIntents and the test cards
# ------------------------------------------------------------------------------------------------


def test_4242_succeeds_with_a_charge(
    url: str, client: stripe.StripeClient, hooks: Receiver
) -> None:
    customer = client.v1.customers.create()
    pi = pay(
        client,
        "4242424242424242",
        customer=customer.id,
        metadata={"order": "7"},
        setup_future_usage="off_session",
        expand=["latest_charge"],
    )
    assert pi.id.startswith("pi_") and pi.client_secret.startswith(pi.id + "_secret_")
    assert (pi.status, pi.amount, pi.amount_received, pi.currency) == (
        "succeeded",
        2000,
        2000,
        "usd",
    )
    charge = pi.latest_charge
    assert charge.id.startswith("ch_")
    assert (charge.paid, charge.status, charge.amount, charge.amount_refunded, charge.refunded) == (
        True,
        "succeeded",
        2000,
        0,
        False,
    )
    assert charge.payment_intent == pi.id
    assert charge.metadata.to_dict() == {"order": "7"}
    assert client.v1.payment_methods.retrieve(pi.payment_method).customer == customer.id
    again = client.v1.payment_intents.retrieve(pi.id)
    assert again.latest_charge == charge.id
    drain(url)
    assert hooks.types() == [
        "customer.created",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "payment_method.attached",
    ]
    succeeded = hooks.events()[3]
    assert succeeded.data.object.id == pi.id
    assert succeeded.data.object.status == "succeeded"
    assert succeeded.livemode is False
    assert succeeded.request.idempotency_key


@pytest.mark.parametrize(
    ("number", "code", "decline_code"),
    [
        ("4000000000000002", "card_declined", "generic_decline"),
        ("4000000000009995", "card_declined", "insufficient_funds"),
        ("4000000000000069", "expired_card", None),
        ("4000000000000119", "processing_error", None),
    ],
)
def test_declined_cards(
    url: str,
    client: stripe.StripeClient,
    hooks: Receiver,
    number: str,
    code: str,
    decline_code: str | None,
) -> None:
    with pytest.raises(stripe.CardError) as caught:
        pay(client, number)
    error = caught.value
    assert error.http_status == 402
    assert error.code == code
    assert error.error is not None
    assert error.error.type == "card_error"
    assert error.error.to_dict().get("decline_code") == decline_code
    assert error.error.payment_intent is not None
    pi = client.v1.payment_intents.retrieve(error.error.payment_intent.id)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error is not None
    last = pi.last_payment_error.to_dict()
    assert (last["code"], last.get("decline_code")) == (code, decline_code)
    charge = client.v1.charges.retrieve(str(pi.latest_charge))
    assert (charge.status, charge.paid, charge.failure_code) == ("failed", False, code)
    drain(url)
    assert hooks.types()[-2:] == ["charge.failed", "payment_intent.payment_failed"]


@pytest.mark.parametrize("number", ["4000002500003155", "4000002760003184"])
@pytest.mark.parametrize("result", ["complete", "fail"])
def test_3d_secure_on_session(
    url: str, client: stripe.StripeClient, hooks: Receiver, number: str, result: str
) -> None:
    pi = pay(client, number)  # confirmed without a return_url: Stripe.js handles the action
    assert pi.status == "requires_action"
    assert pi.next_action is not None and pi.next_action.type == "use_stripe_sdk"
    assert pi.latest_charge is None
    done = control(url, f"/payment_intents/{pi.id}/authenticate", result=result)
    pi = client.v1.payment_intents.retrieve(pi.id)
    assert pi.status == done["status"]
    drain(url)
    if result == "complete":
        assert pi.status == "succeeded"
        charge = client.v1.charges.retrieve(str(pi.latest_charge))
        assert charge.payment_method_details.card.three_d_secure.result == "authenticated"
        assert hooks.types()[-3:] == [
            "payment_intent.requires_action",
            "charge.succeeded",
            "payment_intent.succeeded",
        ]
    else:
        assert pi.status == "requires_payment_method"
        assert pi.last_payment_error.code == "payment_intent_authentication_failure"
        assert hooks.types()[-2:] == [
            "payment_intent.requires_action",
            "payment_intent.payment_failed",
        ]
    answer = httpx.post(
        url + f"/_fake/payment_intents/{pi.id}/authenticate", json={"result": "complete"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "payment_intent_unexpected_state"


def off_session(client: stripe.StripeClient, customer: str, pm: str) -> Any:
    return client.v1.payment_intents.create(
        params={
            "amount": 500,
            "currency": "usd",
            "customer": customer,
            "payment_method": pm,
            "confirm": True,
            "off_session": True,
        }
    )


def test_off_session_needs_a_prior_authentication(url: str, client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create().id
    for number in ("4000002500003155", "4000002760003184"):
        pm = card_pm(client, number)
        client.v1.payment_methods.attach(pm.id, params={"customer": customer})
        with pytest.raises(stripe.CardError) as caught:
            off_session(client, customer, pm.id)
        assert caught.value.code == "authentication_required"
        assert caught.value.error.decline_code == "authentication_required"
        assert caught.value.error.payment_intent.status == "requires_payment_method"

    # Set up with 3-D Secure: 3155 then passes off session, 3184 still declines.
    for number, passes in (("4000002500003155", True), ("4000002760003184", False)):
        pm = card_pm(client, number)
        si = client.v1.setup_intents.create(
            params={
                "customer": customer,
                "payment_method": pm.id,
                "confirm": True,
                "usage": "off_session",
            }
        )
        assert si.id.startswith("seti_") and si.status == "requires_action"
        control(url, f"/setup_intents/{si.id}/authenticate", result="complete")
        assert client.v1.setup_intents.retrieve(si.id).status == "succeeded"
        assert client.v1.payment_methods.retrieve(pm.id).customer == customer
        if passes:
            assert off_session(client, customer, pm.id).status == "succeeded"
        else:
            with pytest.raises(stripe.CardError, match="requires authentication"):
                off_session(client, customer, pm.id)

    # A card saved by an on-session payment with 3-D Secure passes off session too.
    pm = card_pm(client, "4000002500003155")
    pi = client.v1.payment_intents.create(
        params={
            "amount": 900,
            "currency": "usd",
            "customer": customer,
            "payment_method": pm.id,
            "confirm": True,
            "setup_future_usage": "off_session",
        }
    )
    control(url, f"/payment_intents/{pi.id}/authenticate", result="complete")
    assert off_session(client, customer, pm.id).status == "succeeded"
    # And 4242 needs nothing.
    pm = card_pm(client, "4242424242424242")
    client.v1.payment_methods.attach(pm.id, params={"customer": customer})
    assert off_session(client, customer, pm.id).status == "succeeded"


def test_setup_intents(url: str, client: stripe.StripeClient, hooks: Receiver) -> None:
    customer = client.v1.customers.create().id
    si = client.v1.setup_intents.create(params={"customer": customer})
    assert (si.status, si.usage) == ("requires_payment_method", "off_session")
    si = client.v1.setup_intents.confirm(si.id, params={"payment_method": "pm_card_visa"})
    assert si.status == "succeeded"
    assert client.v1.payment_methods.retrieve(str(si.payment_method)).customer == customer
    with pytest.raises(stripe.CardError) as caught:
        client.v1.setup_intents.create(
            params={
                "customer": customer,
                "payment_method": "pm_card_chargeDeclined",
                "confirm": True,
            }
        )
    assert caught.value.code == "card_declined"
    assert caught.value.error.setup_intent.status == "requires_payment_method"
    pending = client.v1.setup_intents.create(params={"customer": customer})
    assert client.v1.setup_intents.cancel(pending.id).status == "canceled"
    drain(url)
    assert "setup_intent.succeeded" in hooks.types()
    assert "setup_intent.setup_failed" in hooks.types()


def test_stripe_js_calls_confirm_with_the_client_secret(
    url: str, client: stripe.StripeClient, browser_client: stripe.StripeClient
) -> None:
    pi = client.v1.payment_intents.create(params={"amount": 1500, "currency": "usd"})
    assert pi.status == "requires_payment_method"
    seen = browser_client.v1.payment_intents.retrieve(
        pi.id, params={"client_secret": pi.client_secret}
    )
    assert seen.amount == 1500
    with pytest.raises(stripe.InvalidRequestError, match="client_secret provided does not match"):
        browser_client.v1.payment_intents.retrieve(pi.id, params={"client_secret": "pi_x_secret_y"})
    with pytest.raises(stripe.InvalidRequestError, match="Missing required param: client_secret"):
        browser_client.v1.payment_intents.retrieve(pi.id)
    done = browser_client.v1.payment_intents.confirm(
        pi.id,
        params={
            "client_secret": pi.client_secret,
            "payment_method_data": {
                "type": "card",
                "card": {
                    "number": "4242424242424242",  # type: ignore[typeddict-item]
                    **CARD,
                },
            },
        },
    )
    assert done.status == "succeeded"
    with pytest.raises(stripe.PermissionError):
        browser_client.v1.payment_intents.cancel(pi.id)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.confirm(pi.id)
    assert caught.value.code == "payment_intent_unexpected_state"
    assert "status of succeeded" in str(caught.value)


def test_update_cancel_and_errors(client: stripe.StripeClient) -> None:
    pi = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    pi = client.v1.payment_intents.update(pi.id, params={"amount": 1200, "metadata": {"a": "b"}})
    assert (pi.amount, pi.metadata.to_dict()) == (1200, {"a": "b"})
    with pytest.raises(stripe.InvalidRequestError, match="missing a payment method"):
        client.v1.payment_intents.confirm(pi.id)
    canceled = client.v1.payment_intents.cancel(pi.id, params={"cancellation_reason": "abandoned"})
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    with pytest.raises(stripe.InvalidRequestError, match="status of canceled"):
        client.v1.payment_intents.cancel(pi.id)
    with pytest.raises(stripe.InvalidRequestError, match=r"at least \$0\.50") as caught:
        client.v1.payment_intents.create(params={"amount": 10, "currency": "usd"})
    assert caught.value.param == "amount"
    with pytest.raises(stripe.InvalidRequestError, match="Missing required param: currency"):
        client.v1.payment_intents.create(params={"amount": 1000})  # type: ignore[typeddict-item]
    with pytest.raises(stripe.InvalidRequestError, match="No such payment_intent: 'pi_nope'"):
        client.v1.payment_intents.retrieve("pi_nope")
    with pytest.raises(stripe.InvalidRequestError, match="capture_method"):
        client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "usd", "capture_method": "manual"}
        )


# ------------------------------------------------------------------------------------------------
# Refunds, disputes
# ------------------------------------------------------------------------------------------------


def test_refunds_partial_full_and_too_much(
    url: str, client: stripe.StripeClient, hooks: Receiver
) -> None:
    pi = pay(client, "4242424242424242")
    first = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 500})
    assert first.id.startswith("re_")
    assert (first.amount, first.status, first.charge) == (500, "succeeded", pi.latest_charge)
    charge = client.v1.charges.retrieve(str(pi.latest_charge))
    assert (charge.amount_refunded, charge.refunded) == (500, False)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"charge": charge.id, "amount": 1600})
    assert caught.value.param == "amount"
    assert "Refund amount ($16.00) is greater than unrefunded amount on charge ($15.00)" in str(
        caught.value
    )
    rest = client.v1.refunds.create(params={"charge": charge.id})
    assert rest.amount == 1500
    charge = client.v1.charges.retrieve(charge.id)
    assert (charge.amount_refunded, charge.refunded) == (2000, True)
    with pytest.raises(stripe.InvalidRequestError, match="has already been refunded"):
        client.v1.refunds.create(params={"payment_intent": pi.id})
    assert client.v1.refunds.retrieve(first.id).amount == 500
    listed = client.v1.refunds.list(params={"payment_intent": pi.id})
    assert [r.id for r in listed.data] == [rest.id, first.id]

    # A refund made in Stripe's dashboard.
    other = pay(client, "4242424242424242")
    refund = control(url, f"/charges/{other.latest_charge}/refund", amount=700)
    assert refund["amount"] == 700 and refund["object"] == "refund"
    drain(url)
    refunded = [e for e in hooks.events() if e.type == "charge.refunded"]
    assert [
        (e.data.object.amount_refunded, e.data.previous_attributes.amount_refunded)
        for e in refunded
    ] == [(500, 0), (2000, 500), (700, 0)]


def test_disputes(url: str, client: stripe.StripeClient, hooks: Receiver) -> None:
    pi = pay(client, "4242424242424242")
    dispute = control(url, f"/charges/{pi.latest_charge}/dispute", reason="fraudulent")
    assert dispute["id"].startswith("dp_")
    assert dispute["status"] == "needs_response"
    assert client.v1.charges.retrieve(str(pi.latest_charge)).disputed is True
    retrieved = client.v1.disputes.retrieve(dispute["id"])
    assert (retrieved.amount, retrieved.charge, retrieved.payment_intent) == (
        2000,
        pi.latest_charge,
        pi.id,
    )
    with pytest.raises(stripe.InvalidRequestError, match="charged back"):
        client.v1.refunds.create(params={"payment_intent": pi.id})
    closed = control(url, f"/disputes/{dispute['id']}/close", status="won")
    assert closed["status"] == "won"
    # Accepting a dispute through the API closes it lost.
    other = pay(client, "4242424242424242")
    second = control(url, f"/charges/{other.latest_charge}/dispute")
    assert client.v1.disputes.close(second["id"]).status == "lost"
    drain(url)
    created = [e for e in hooks.events() if e.type.startswith("charge.dispute.")]
    assert [(e.type, e.data.object.status) for e in created] == [
        ("charge.dispute.created", "needs_response"),
        ("charge.dispute.closed", "won"),
        ("charge.dispute.created", "needs_response"),
        ("charge.dispute.closed", "lost"),
    ]


# ------------------------------------------------------------------------------------------------
# Idempotency
# ------------------------------------------------------------------------------------------------


def test_idempotency_keys(url: str, client: stripe.StripeClient, fake: FakeStripe) -> None:
    params: Any = {"amount": 1000, "currency": "usd"}
    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k1"})
    again = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k1"})
    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        client.v1.payment_intents.create(
            params={"amount": 1001, "currency": "usd"}, options={"idempotency_key": "k1"}
        )
    # A decline is kept too: the same key answers the same 402 without charging again.
    pm = card_pm(client, "4000000000000002")
    decline: Any = {"amount": 1000, "currency": "usd", "payment_method": pm.id, "confirm": True}
    with pytest.raises(stripe.CardError) as first_error:
        client.v1.payment_intents.create(params=decline, options={"idempotency_key": "k2"})
    with pytest.raises(stripe.CardError) as second_error:
        client.v1.payment_intents.create(params=decline, options={"idempotency_key": "k2"})
    assert second_error.value.error.payment_intent.id == first_error.value.error.payment_intent.id
    # A validation error is not kept: the key can be used again once the call is right.
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.create(
            params={"amount": 1000},  # type: ignore[typeddict-item]
            options={"idempotency_key": "k3"},
        )
    assert (
        client.v1.payment_intents.create(params=params, options={"idempotency_key": "k3"}).status
        == "requires_payment_method"
    )
    # Keys belong to an API key: the live key's k1 is another request.
    live = client_for(url, "sk_live_x1").v1.payment_intents.create(
        params=params, options={"idempotency_key": "k1"}
    )
    assert live.id != first.id and live.livemode
    pis = [r for r in fake.requests if r["path"] == "/v1/payment_intents"]
    assert sum(1 for r in pis if r["replayed"]) == 2


# ------------------------------------------------------------------------------------------------
# Webhooks and events
# ------------------------------------------------------------------------------------------------


def test_webhooks_are_signed_as_stripe_signs_them(
    url: str, client: stripe.StripeClient, hooks: Receiver
) -> None:
    pay(client, "4242424242424242")
    drain(url)
    body, headers = hooks.received[-1]
    assert headers["content-type"].startswith("application/json")
    assert headers["user-agent"].startswith("Stripe/1.0")
    event = stripe.Webhook.construct_event(body, headers["stripe-signature"], SECRET)
    assert event.id.startswith("evt_")
    assert event.object == "event"
    assert event.type == "payment_intent.succeeded"
    assert event.api_version
    assert abs(event.created - time.time()) < 60
    raw = json.loads(body)
    assert set(raw) >= {
        "id",
        "object",
        "api_version",
        "created",
        "data",
        "livemode",
        "type",
        "pending_webhooks",
        "request",
    }
    tampered = body.replace(b'"amount": 2000', b'"amount": 1')
    assert tampered != body
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, headers["stripe-signature"], SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["stripe-signature"], "whsec_other")
    old = sign(body, SECRET, int(time.time()) - 3600)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(body, old, SECRET, tolerance=300)


def test_events_api(url: str, client: stripe.StripeClient) -> None:
    pi = pay(client, "4242424242424242")
    events = client.v1.events.list(params={"type": "payment_intent.*", "limit": 2})
    assert [e.type for e in events.data] == ["payment_intent.succeeded", "payment_intent.created"]
    assert events.data[0].data.object.id == pi.id
    one = client.v1.events.retrieve(events.data[0].id)
    assert one.type == "payment_intent.succeeded"
    assert client_for(url, "sk_live_x").v1.events.list().data == []


def test_a_failing_receiver_gets_retries(
    url: str, client: stripe.StripeClient, hooks: Receiver
) -> None:
    customer = client.v1.customers.create()
    drain(url)
    hooks.received.clear()
    hooks.fail_next = 2
    client.v1.customers.update(customer.id, params={"name": "Retried"})
    drain(url)
    assert len(hooks.received) == 3
    events = hooks.events()
    assert {e.id for e in events} == {events[0].id}
    deliveries = httpx.get(url + "/_fake/deliveries", params={"event": events[0].id}).json()["data"]
    assert [(d["attempt"], d["status"], d["ok"], d["reason"]) for d in deliveries] == [
        (1, 500, False, "automatic"),
        (2, 500, False, "retry"),
        (3, 200, True, "retry"),
    ]
    # A receiver that never answers 2xx gets max_attempts tries, then nothing more.
    control(url, "/webhook", max_attempts=2)
    hooks.received.clear()
    hooks.fail_next = 5
    client.v1.customers.update(customer.id, params={"name": "Given up"})
    drain(url)
    assert len(hooks.received) == 2
    event = client.v1.events.list(params={"limit": 1}).data[0]
    assert event.pending_webhooks == 0


def test_redelivery_and_concurrent_delivery(
    url: str, client: stripe.StripeClient, hooks: Receiver
) -> None:
    pay(client, "4242424242424242")
    drain(url)
    succeeded = client.v1.events.list(params={"type": "payment_intent.succeeded"}).data[0]
    hooks.received.clear()
    attempts = control(url, f"/events/{succeeded.id}/deliver", times=3)["data"]
    assert [a["status"] for a in attempts] == [200, 200, 200]
    assert [e.id for e in hooks.events()] == [succeeded.id] * 3

    hooks.received.clear()
    all_events = [e.id for e in client.v1.events.list().data]
    attempts = control(url, "/events/deliver", events=all_events, times=2)["data"]
    assert len(attempts) == 2 * len(all_events)
    assert all(a["ok"] for a in attempts)
    assert sorted(e.id for e in hooks.events()) == sorted(all_events * 2)

    missing = httpx.post(url + "/_fake/events/evt_nope/deliver", json={})
    assert missing.status_code == 404


def test_webhook_settings_at_runtime(
    url: str, client: stripe.StripeClient, hooks: Receiver
) -> None:
    settings = control(url, "/webhook", enabled_events=["charge.*"], secret="whsec_rotated")
    assert settings["enabled_events"] == ["charge.*"]
    pay(client, "4242424242424242")
    drain(url)
    body, headers = hooks.received[-1]
    event = stripe.Webhook.construct_event(body, headers["stripe-signature"], "whsec_rotated")
    assert event.type == "charge.succeeded"
    assert len(hooks.received) == 1
    control(url, "/webhook", url=None)
    pay(client, "4242424242424242")
    drain(url)
    assert len(hooks.received) == 1


# ------------------------------------------------------------------------------------------------
# Controls, recorded requests, Stripe.js, the command
# ------------------------------------------------------------------------------------------------


def test_controls_and_recorded_requests(url: str, client: stripe.StripeClient) -> None:
    assert httpx.get(url + "/_fake/health").json() == {"ok": True}
    client.v1.customers.create(params={"email": "rec@example.com"})
    recorded = httpx.get(url + "/_fake/requests").json()["data"]
    assert recorded[-1]["path"] == "/v1/customers"
    assert recorded[-1]["params"] == {"email": "rec@example.com"}
    assert recorded[-1]["api_key"] == "sk_test_fakesecret"
    assert recorded[-1]["status"] == 200
    assert httpx.get(url + "/_fake/nope").status_code == 404
    unknown = httpx.get(url + "/v1/widgets", headers={"Authorization": "Bearer sk_test_x"})
    assert unknown.status_code == 404
    assert "Unrecognized request URL (GET: /v1/widgets)" in unknown.json()["error"]["message"]


def test_stripe_js_and_the_challenge_page_are_served(url: str, client: stripe.StripeClient) -> None:
    script = httpx.get(url + "/v3/")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("application/javascript")
    assert "window.Stripe = Stripe" in script.text
    assert "https://" not in script.text.replace("https://stripe.com", "")
    pi = pay(client, "4000002760003184")
    page = httpx.get(url + f"/_fake/three_d_secure/{pi.id}")
    assert page.status_code == 200
    assert "Complete authentication" in page.text
    done = httpx.post(url + f"/_fake/three_d_secure/{pi.id}", data={"result": "complete"})
    assert done.json()["status"] == "succeeded"

    # Confirmed on the server with a return_url: the customer is sent to the challenge page,
    # then back to the return_url as Stripe sends them.
    for result, status in (("complete", "succeeded"), ("fail", "failed")):
        pi = pay(client, "4000002500003155", return_url="https://shop.example/back?order=7")
        assert pi.next_action.type == "redirect_to_url"
        redirect = pi.next_action.redirect_to_url
        assert redirect.return_url == "https://shop.example/back?order=7"
        page = httpx.get(redirect.url)
        assert 'value="https://shop.example/back?order=7"' in page.text
        back = httpx.post(
            redirect.url.split("?")[0], data={"result": result, "return_url": redirect.return_url}
        )
        assert back.status_code == 303
        assert back.headers["location"] == (
            f"https://shop.example/back?order=7&payment_intent={pi.id}"
            f"&payment_intent_client_secret={pi.client_secret}&redirect_status={status}"
        )


@pytest.mark.slow
def test_the_command_says_where_it_listens(receiver: tuple[Receiver, ServerThread]) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            LAVA,
            "fake-stripe",
            "--port",
            str(port),
            "--webhook-url",
            receiver[1].url + "/hook",
            "--webhook-secret",
            SECRET,
            "--publishable-key",
            PUBLISHABLE,
        ],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=20), "lava fake-stripe printed nothing"
        first = process.stdout.readline()
        assert f"Fake Stripe on http://127.0.0.1:{port}" in first
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(base + "/_fake/health").raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        receiver[0].received.clear()
        pm = client_for(base, PUBLISHABLE).v1.payment_methods.create(
            params={"type": "card", "card": {"number": "4242424242424242", **CARD}}  # type: ignore[typeddict-item]
        )
        pi = client_for(base).v1.payment_intents.create(
            params={"amount": 1000, "currency": "usd", "payment_method": pm.id, "confirm": True}
        )
        assert pi.status == "succeeded"
        assert control(base, "/drain", timeout=10) == {"pending": 0}
        assert "payment_intent.succeeded" in receiver[0].types()
        busy = subprocess.run(
            [LAVA, "fake-stripe", "--port", str(port)],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert busy.returncode == 2
        assert f"Port {port} is already in use" in busy.stderr
    finally:
        process.terminate()
        process.communicate(timeout=20)
    bad = subprocess.run(
        [LAVA, "fake-stripe", "--port", str(free_port()), "--webhook-secret", "nope"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "whsec_" in bad.stderr
    assert "Traceback" not in bad.stderr


FUZZ_NAMES = (
    "amount",
    "currency",
    "customer",
    "payment_method",
    "payment_method_data",
    "card",
    "metadata",
    "confirm",
    "off_session",
    "setup_future_usage",
    "limit",
    "starting_after",
    "ending_before",
    "type",
    "charge",
    "payment_intent",
    "reason",
    "usage",
    "client_secret",
    "invoice_settings",
    "email",
    "cancellation_reason",
    "expand",
    "error_on_requires_action",
    "billing_details",
    "automatic_payment_methods",
    "capture_method",
)


@pytest.mark.slow
def test_no_input_makes_a_500(url: str, client: stripe.StripeClient, fake: FakeStripe) -> None:
    """Every route, every parameter as text, as a hash and as a list: a 4xx in Stripe's shape or
    a 200, never a 500."""
    customer = client.v1.customers.create()
    pi = pay(client, "4242424242424242", customer=customer.id)
    refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 100})
    dispute = control(url, f"/charges/{pi.latest_charge}/dispute")
    event = client.v1.events.list().data[0]
    ids = {
        "customers": customer.id,
        "payment_methods": pi.payment_method,
        "payment_intents": pi.id,
        "setup_intents": "seti_nope",
        "charges": pi.latest_charge,
        "refunds": refund.id,
        "disputes": dispute["id"],
        "events": event.id,
    }
    paths = []
    for endpoint in fake.endpoints:
        parts = endpoint.pattern.pattern.strip("^$").split("/")
        resource = parts[2]
        paths.append(
            (
                endpoint.method,
                "/".join(ids[resource] if part == "([^/]+)" else part for part in parts),
            )
        )
    variants = ("{}=abc", "{}[x][y]=z", "{}[]=a&{}[]=b", "{}=", "{}=-5")
    statuses = set()
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer sk_test_fuzz"}) as http:
        for method, path in paths:
            for name in FUZZ_NAMES:
                for variant in variants:
                    body = variant.format(name, name)
                    if method == "GET":
                        answer = http.get(path + "?" + body)
                    else:
                        answer = http.post(
                            path,
                            content=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"},
                        )
                    statuses.add(answer.status_code)
                    assert answer.status_code < 500, (method, path, body, answer.text)
                    if answer.status_code >= 400:
                        error = answer.json()["error"]
                        assert error["type"] and error["message"], answer.text
            answer = http.post(
                path,
                content=b"\xff\xfe%%%&&==[[",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert answer.status_code < 500, (path, answer.text)
    assert {200, 400} <= statuses
    for path, body in (
        ("/charges/ch_nope/refund", {"amount": "abc"}),
        (f"/charges/{pi.latest_charge}/refund", {"amount": "abc"}),
        (f"/charges/{pi.latest_charge}/refund", {"amount": {"x": 1}}),
        ("/webhook", {"url": 5}),
        ("/webhook", {"max_attempts": "many"}),
        ("/events/deliver", {"events": "evt_x"}),
        (f"/disputes/{dispute['id']}/close", {"status": "maybe"}),
        (f"/payment_intents/{pi.id}/authenticate", {"result": []}),
        ("/drain", {"timeout": "soon"}),
    ):
        answer = httpx.post(url + "/_fake" + path, json=body)
        assert 400 <= answer.status_code < 500, (path, body, answer.text)
    assert (
        httpx.post(
            url + "/_fake/webhook",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        ).status_code
        == 400
    )


@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")  # the library's
async def test_the_async_client(url: str) -> None:
    client = client_for(url)
    pi = await client.v1.payment_intents.create_async(
        params={
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    assert pi.status == "succeeded"
    with pytest.raises(stripe.CardError) as caught:
        await client.v1.payment_intents.create_async(
            params={
                "amount": 1000,
                "currency": "usd",
                "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
                "confirm": True,
            }
        )
    assert caught.value.error.to_dict()["decline_code"] == "insufficient_funds"


def test_the_global_style(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stripe, "api_key", "sk_test_global")
    monkeypatch.setattr(stripe, "api_base", url)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    customer = stripe.Customer.create(email="global@example.com")
    pi = stripe.PaymentIntent.create(
        amount=1200,
        currency="usd",
        customer=customer.id,
        payment_method="pm_card_visa",
        confirm=True,
    )
    assert pi.status == "succeeded"
    refund = stripe.Refund.create(payment_intent=pi.id, amount=200)
    assert stripe.Charge.retrieve(refund.charge).amount_refunded == 200
