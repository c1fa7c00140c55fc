"""Driving the hosted checkout page over HTTP, as a browser without JavaScript would."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx

from lava_server.db.engine import Database
from lava_server.db.models import Base, CheckoutSession, Wallet
from lava_server.ids import new_id, new_secret
from lava_server.payments.code_senders import Destination, LogSender, Senders, SentCode
from lava_server.payments.context import Billing
from lava_server.payments.interface import Outcome
from lava_server.payments.sandbox import SandboxCharge, SandboxPayments
from lava_server.timeutil import utcnow

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


def sent_codes(client: httpx.AsyncClient) -> list[SentCode]:
    """The codes the sandbox `log` sender of the app under test sent, oldest first."""
    senders = billing_of(client).codes
    assert isinstance(senders, Senders)
    found: list[SentCode] = []
    for sender in {id(s): s for s in senders.by_channel.values()}.values():
        assert isinstance(sender, LogSender)
        found.extend(sender.sent)
    return found


def succeeded_charges(sandbox: SandboxPayments) -> list[SandboxCharge]:
    """What the sandbox card network charged: each charge once, however often it was retried."""
    return [c for c in sandbox.charges.values() if c.result.outcome is Outcome.SUCCEEDED]


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


async def old_live_session(
    db: Database,
    merchant_id: str,
    *,
    at_pay: bool = False,
    mode: str = "onboarding",
    origin_url: str = ORIGIN,
) -> CheckoutSession:
    """A live checkout session as servers made them before live mode needed real providers
    (they ran live sessions on the sandbox ones); `at_pay`: its customer is at the card step,
    with a live wallet."""
    now = utcnow()
    checkout = CheckoutSession(
        id=new_id("cs", True),
        merchant_id=merchant_id,
        livemode=True,
        mode=mode,
        origin_url=origin_url,
        secret=new_secret("css", True),
        created_at=now,
        expires_at=now + timedelta(hours=24),
        code_attempts=0,
        codes_sent=0,
        payment_attempts=0,
    )
    async with db.write() as session:
        if at_pay:
            wallet = Wallet(
                id=new_id("wal", True),
                livemode=True,
                phone="+14155550100",
                balance=Decimal(0),
                held=Decimal(0),
                autopay_enabled=False,
                period_credit=Decimal(0),
                created_at=now,
            )
            session.add(wallet)
            checkout.phone, checkout.email = wallet.phone, "ada@example.com"
            checkout.first_name, checkout.last_name = "Ada", "Lovelace"
            checkout.verified_at, checkout.wallet_id = now, wallet.id
            checkout.amount = Decimal(25)
        session.add(checkout)
    return checkout


async def make_live(db: Database) -> None:
    """Turn everything in the database live: what live checkouts on the sandbox provider left
    behind before live mode needed real providers."""
    async with db.write() as session:
        for table in Base.metadata.sorted_tables:
            if "livemode" in table.c:
                await session.execute(table.update().values(livemode=True))


@dataclass
class LiveCodes:
    """A code sender that reaches customers, for live sessions in tests (keeps what it sent)."""

    name: str = "live-test"
    live: bool = True
    channels: frozenset = frozenset({"phone"})
    sent: list[str] = field(default_factory=list)

    async def send(self, to: Destination, text: str, *, livemode: bool) -> None:
        self.sent.append(text)
