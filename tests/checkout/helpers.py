"""Driving the hosted checkout page over HTTP, as a browser without JavaScript would."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from lava_server.payments.context import Billing

ORIGIN = "https://shop.example"
GOOD_CARD = {"card_number": "4242 4242 4242 4242", "card_expiry": "12 / 34", "card_cvc": "123"}
DECLINED_CARD = {**GOOD_CARD, "card_number": "4000 0000 0000 0002"}
NO_FUNDS_CARD = {**GOOD_CARD, "card_number": "4000 0000 0000 9995"}
DETAILS = {
    "phone": "+1 415 555 0100",
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
}


def billing_of(client: httpx.AsyncClient) -> Billing:
    app = client._transport.app  # type: ignore[attr-defined]
    billing: Billing = app.state.billing
    return billing


def secret_of(session: dict[str, Any]) -> str:
    decoded = json.loads(base64.b64decode(session["checkout_session_token"]))
    return str(decoded["secret"])


async def create_session(
    client: httpx.AsyncClient, headers: dict[str, str], mode: str = "onboarding", **fields: Any
) -> dict[str, Any]:
    body = {"checkout_mode": mode, "origin_url": ORIGIN, **fields}
    response = await client.post("/v1/checkout_sessions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_config(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    amount: str = "20",
    rollover: str = "none",
    name: str = "Pro",
) -> dict[str, Any]:
    response = await client.post(
        "/v1/subscription-configs",
        json={"name": name, "period_amount": amount, "rollover_type": rollover},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


@dataclass
class Page:
    """One checkout session's page."""

    client: httpx.AsyncClient
    secret: str

    @property
    def path(self) -> str:
        return f"/embed/checkout/{self.secret}"

    async def get(self) -> httpx.Response:
        return await self.client.get(self.path)

    async def post(self, action: str, **fields: str) -> httpx.Response:
        """Submit a form; follows the 303 to the page like a browser."""
        response = await self.client.post(self.path, data={"action": action, **fields})
        if response.status_code == 303:
            assert response.headers["location"] == self.path
            return await self.get()
        return response

    async def code(self) -> str:
        html = (await self.get()).text
        found = re.search(r'id="sandbox-code">([0-9]{6})<', html)
        assert found, html
        return found.group(1)

    async def verify(self) -> httpx.Response:
        return await self.post("verify", code=await self.code())

    async def onboard(
        self, amount: str = "25", card: dict[str, str] | None = None, **details: str
    ) -> httpx.Response:
        response = await self.post("details", **{**DETAILS, **details})
        assert response.status_code == 200, response.text
        await self.verify()
        response = await self.post("amount", amount=amount)
        assert response.status_code == 200, response.text
        return await self.post("pay", **(card or GOOD_CARD))


def step_of(response: httpx.Response) -> str:
    found = re.search(r"<h1 id=\"title\">([^<]*)</h1>", response.text)
    assert found, response.text
    return found.group(1).strip()


def errors_of(response: httpx.Response) -> list[str]:
    """The messages of the page's error summary."""
    found = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>', response.text, re.S)
    assert found, response.text
    items = re.findall(r"<li>(.*?)</li>", found.group(1), re.S)
    return [re.sub(r"<[^>]+>", "", item).strip() for item in items]


def error_of(response: httpx.Response) -> str:
    return " ".join(errors_of(response))


async def connection(
    client: httpx.AsyncClient, headers: dict[str, str], connection_id: str
) -> dict[str, Any]:
    response = await client.get(f"/v1/connections/{connection_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def balance(
    client: httpx.AsyncClient, headers: dict[str, str], connection_id: str
) -> Decimal:
    return Decimal((await connection(client, headers, connection_id))["wallet"]["balance"])
