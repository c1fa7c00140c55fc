"""The fake Stripe's stand-in for Stripe.js in Chromium: a shop's page (on another origin) loads
it from the fake, mounts the card fields, and pays with 4242 and with 3-D Secure cards (the
challenge completed, or failed); the PaymentIntents are then read with the official `stripe`
library. Any request to a host other than this machine fails the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from lava_server.testing import ServerThread, serve_in_thread
from lava_server.testing.fake_stripe import create_fake_stripe_app

pytestmark = pytest.mark.slow

PUBLISHABLE = "pk_test_shopkey"
SECRET_KEY = "sk_test_shopkey"
NONCE = "shop-nonce-1"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script nonce="{nonce}">
  window.violations = [];
  document.addEventListener("securitypolicyviolation",
    (e) => window.violations.push(e.violatedDirective + " " + e.blockedURI));
</script>
<script src="{stripe_js}"></script></head>
<body>
<h1>Pay $25.00</h1>
<form id="pay">
  <div id="payment-element"></div>
  <button type="submit">Pay</button>
</form>
<pre id="result"></pre>
<script nonce="{nonce}">
  // ?flow=payment (Payment Element, confirmPayment), card (Card Element, confirmCardPayment),
  // setup (confirmSetup), next_action (the server confirmed; handleNextAction), deferred
  // (elements with a mode, an amount and a currency; the intent made after elements.submit())
  const flow = new URLSearchParams(location.search).get("flow") || "payment";
  const stripe = Stripe("{publishable}");
  let elements, card, clientSecret;
  const create = (kind) => fetch("/create/" + kind, {{method: "POST"}}).then(r => r.json());
  const ready = (flow === "deferred" ? Promise.resolve({{}}) : create(flow)).then(intent => {{
    clientSecret = intent.client_secret;
    if (flow === "deferred") {{
      elements = stripe.elements({{mode: "payment", amount: 2500, currency: "usd"}});
      elements.create("payment").mount("#payment-element");
    }} else if (flow === "card") {{
      elements = stripe.elements();
      card = elements.create("card");
      card.mount("#payment-element");
    }} else if (flow !== "next_action") {{
      elements = stripe.elements({{clientSecret}});
      elements.create("payment").mount("#payment-element");
    }}
    document.body.dataset.ready = "yes";
  }});
  document.getElementById("pay").addEventListener("submit", async (event) => {{
    event.preventDefault();
    await ready;
    let result;
    if (flow === "card") {{
      result = await stripe.confirmCardPayment(clientSecret, {{payment_method: {{card}}}});
    }} else if (flow === "setup") {{
      result = await stripe.confirmSetup({{
        elements, confirmParams: {{return_url: location.href}}, redirect: "if_required"}});
    }} else if (flow === "next_action") {{
      result = await stripe.handleNextAction({{clientSecret}});
    }} else if (flow === "deferred") {{
      result = await elements.submit();
      if (!result.error) {{
        const intent = await create("payment");
        result = await stripe.confirmPayment({{elements, clientSecret: intent.client_secret,
          confirmParams: {{return_url: location.href}}, redirect: "if_required"}});
      }}
    }} else {{
      result = await stripe.confirmPayment({{
        elements, confirmParams: {{return_url: location.href}}, redirect: "if_required"}});
    }}
    document.getElementById("result").textContent = JSON.stringify(result);
  }});
</script>
</body></html>
"""


class Shop:
    """A merchant's site: its page, and its server creating PaymentIntents with the secret key."""

    def __init__(self, fake_url: str) -> None:
        self.fake_url = fake_url
        self.client = stripe.StripeClient(
            SECRET_KEY, base_addresses={"api": fake_url}, max_network_retries=0
        )
        self.app = Starlette(
            routes=[
                Route("/", self.page),
                Route("/create/{flow}", self.create, methods=["POST"]),
            ]
        )

    async def page(self, request: Request) -> HTMLResponse:
        # A strict policy: the stand-in needs only script-src and connect-src for its origin.
        policy = (
            f"default-src 'none'; script-src 'nonce-{NONCE}' {self.fake_url}; "
            f"connect-src 'self' {self.fake_url}; style-src 'none'; img-src 'none'"
        )
        return HTMLResponse(
            PAGE.format(stripe_js=self.fake_url + "/v3/", publishable=PUBLISHABLE, nonce=NONCE),
            headers={"Content-Security-Policy": policy},
        )

    def create(self, request: Request) -> JSONResponse:
        flow = request.path_params["flow"]
        self.customer = self.client.v1.customers.create().id
        if flow == "setup":
            setup = self.client.v1.setup_intents.create(params={"customer": self.customer})
            return JSONResponse({"client_secret": setup.client_secret})
        params: Any = {"amount": 2500, "currency": "usd", "metadata": {"shop": "order-1"}}
        if flow == "next_action":
            params.update(
                payment_method="pm_card_authenticationRequired",
                confirm=True,
                customer=self.customer,
            )
        intent = self.client.v1.payment_intents.create(params=params)
        return JSONResponse({"client_secret": intent.client_secret})


@pytest.fixture
def servers() -> Iterator[tuple[str, Shop]]:
    """The fake Stripe on 127.0.0.1, the shop on localhost: two origins."""
    with serve_in_thread(create_fake_stripe_app(publishable_key=PUBLISHABLE)) as fake:
        shop = Shop(fake.url)
        with ServerThread(shop.app) as shop_server:
            yield f"http://localhost:{shop_server.port}", shop


async def pay(
    browser: Any, origin: str, card: str | None, challenge: str | None, flow: str = "payment"
) -> dict[str, Any]:
    context = await browser.new_context()
    outside: list[str] = []

    async def only_this_machine(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    page = await context.new_page()
    await page.route("**/*", only_this_machine)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await page.goto(origin + "/?flow=" + flow)
        await page.locator("body[data-ready=yes]").wait_for()
        if card is not None:
            await page.get_by_label("Card number").fill(card)
            await page.get_by_label("Expiration date").fill("12 / 34")
            await page.get_by_label("Security code").fill("123")
        await page.get_by_role("button", name="Pay").click()
        if challenge is not None:
            dialog = page.get_by_role("dialog", name="3D Secure authentication")
            await dialog.wait_for()
            await dialog.get_by_role("button", name=challenge).click()
            await dialog.wait_for(state="detached")
        result = page.locator("#result:not(:empty)")
        await result.wait_for()
        answer: dict[str, Any] = json.loads(await result.inner_text())
        assert await page.evaluate("window.violations") == []
    finally:
        await context.close()
    assert outside == [], f"requests to other hosts: {outside}"
    assert errors == []
    return answer


async def test_paying_with_the_stand_in_stripe_js(browser: Any, servers: tuple[str, Shop]) -> None:
    origin, shop = servers

    plain = await pay(browser, origin, "4242 4242 4242 4242", None)
    assert "error" not in plain, plain
    assert plain["paymentIntent"]["status"] == "succeeded"
    intent = shop.client.v1.payment_intents.retrieve(plain["paymentIntent"]["id"])
    assert (intent.status, intent.amount, intent.metadata.to_dict()) == (
        "succeeded",
        2500,
        {"shop": "order-1"},
    )
    charge = shop.client.v1.charges.retrieve(str(intent.latest_charge))
    assert charge.payment_method_details.card.last4 == "4242"

    secured = await pay(browser, origin, "4000 0025 0000 3155", "Complete authentication")
    assert secured["paymentIntent"]["status"] == "succeeded", secured
    intent = shop.client.v1.payment_intents.retrieve(secured["paymentIntent"]["id"])
    assert intent.status == "succeeded"
    charge = shop.client.v1.charges.retrieve(str(intent.latest_charge))
    assert charge.payment_method_details.card.three_d_secure.result == "authenticated"

    refused = await pay(browser, origin, "4000 0027 6000 3184", "Fail authentication")
    assert refused["error"]["code"] == "payment_intent_authentication_failure", refused
    assert refused["error"]["payment_intent"]["status"] == "requires_payment_method"

    declined = await pay(browser, origin, "4000 0000 0000 9995", None)
    assert declined["error"]["type"] == "card_error"
    assert declined["error"]["decline_code"] == "insufficient_funds"
    assert declined["error"]["payment_intent"]["status"] == "requires_payment_method"

    incomplete = await pay(browser, origin, "4242", None)
    assert incomplete["error"]["type"] == "validation_error"


async def test_card_element_setup_next_action_and_deferred_intent(
    browser: Any, servers: tuple[str, Shop]
) -> None:
    origin, shop = servers

    card = await pay(browser, origin, "4000 0027 6000 3184", "Complete authentication", "card")
    assert card["paymentIntent"]["status"] == "succeeded", card

    setup = await pay(browser, origin, "4000 0025 0000 3155", "Complete authentication", "setup")
    assert setup["setupIntent"]["status"] == "succeeded", setup
    saved = shop.client.v1.payment_methods.list(params={"customer": shop.customer}).data
    assert [pm.id for pm in saved] == [setup["setupIntent"]["payment_method"]]
    # Set up with 3-D Secure, the card now pays off session without the customer.
    later = shop.client.v1.payment_intents.create(
        params={
            "amount": 700,
            "currency": "usd",
            "customer": shop.customer,
            "payment_method": saved[0].id,
            "confirm": True,
            "off_session": True,
        }
    )
    assert later.status == "succeeded"

    action = await pay(browser, origin, None, "Complete authentication", "next_action")
    assert action["paymentIntent"]["status"] == "succeeded", action

    deferred = await pay(browser, origin, "4242 4242 4242 4242", None, "deferred")
    assert deferred["paymentIntent"]["status"] == "succeeded", deferred
    incomplete = await pay(browser, origin, "4242 4242 4242 4242 1", None, "deferred")
    assert incomplete["error"]["type"] == "validation_error", incomplete
