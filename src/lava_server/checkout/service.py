"""The checkout sessions API: create (with each mode's rules; live sessions only once live mode
is configured), list, retrieve."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from lava_server.api.auth import Caller
from lava_server.checkout import repository
from lava_server.checkout.schemas import CheckoutSessionCreate, Mode, RestCheckoutSession
from lava_server.connections import service as connections
from lava_server.db.engine import Database
from lava_server.db.models import CheckoutSession
from lava_server.errors import Conflict, InvalidRequest, NotFound
from lava_server.ids import new_id, new_secret
from lava_server.payments.context import Billing
from lava_server.subscriptions import repository as subscriptions
from lava_server.timeutil import iso


def token(secret: str, public_base: str) -> str:
    """`checkout_session_token`: standard base64 of `{"secret", "base"}`
    (`docs/checkout-and-wallets.md`)."""
    payload = json.dumps({"secret": secret, "base": public_base}, separators=(",", ":"))
    return base64.b64encode(payload.encode()).decode()


def render(session: CheckoutSession, public_base: str) -> RestCheckoutSession:
    """The seed's `RestCheckoutSession`, plus `expires_at`."""
    body: RestCheckoutSession = {
        "checkout_session_id": session.id,
        "checkout_session_token": token(session.secret, public_base),
        "checkout_mode": cast(Mode, session.mode),
        "origin_url": session.origin_url,
        "created_at": iso(session.created_at),
        "expires_at": iso(session.expires_at),
    }
    if session.connection_id is not None:
        body["connection_id"] = body["customer_id"] = session.connection_id
    if session.reference_id is not None:
        body["reference_id"] = session.reference_id
    if session.subscription_config_id is not None:
        body["subscription_config_id"] = session.subscription_config_id
    if session.completed_at is not None:
        body["completed_at"] = iso(session.completed_at)
    return body


def _check_mode(params: CheckoutSessionCreate) -> None:
    mode = params.checkout_mode
    name = "customer_id" if params.customer_id is not None else "connection_id"
    if mode == "topup" and params.customer is None:
        raise InvalidRequest(
            "connection_id is required when checkout_mode is topup.", param="connection_id"
        )
    if mode == "onboarding" and params.customer is not None:
        raise InvalidRequest(
            f"{name} is only accepted when checkout_mode is topup or subscription "
            "(onboarding creates the connection).",
            param=name,
        )
    if mode == "subscription" and params.subscription_config_id is None:
        raise InvalidRequest(
            "subscription_config_id is required when checkout_mode is subscription.",
            param="subscription_config_id",
        )
    if mode != "subscription" and params.subscription_config_id is not None:
        raise InvalidRequest(
            "subscription_config_id is only accepted when checkout_mode is subscription.",
            param="subscription_config_id",
        )


async def create(
    billing: Billing, caller: Caller, params: CheckoutSessionCreate, now: datetime
) -> CheckoutSession:
    _check_mode(params)
    if caller.livemode:
        billing.check_live_mode()  # a live session must never take test cards or fake codes
    checkout = CheckoutSession(
        id=new_id("cs", caller.livemode),
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        mode=params.checkout_mode,
        origin_url=params.origin_url,
        reference_id=params.reference_id,
        connection_id=params.connection_id,
        subscription_config_id=params.subscription_config_id,
        secret=new_secret("css", caller.livemode),
        created_at=now,
        expires_at=now + timedelta(hours=billing.settings.checkout_session_ttl_hours),
        code_attempts=0,
        codes_sent=0,
        payment_attempts=0,
    )
    async with billing.db.write() as session:
        if params.subscription_config_id is not None:
            config = await subscriptions.get_config(
                session, caller.merchant_id, caller.livemode, params.subscription_config_id
            )
            if config is None:
                raise NotFound(
                    f"No subscription config {params.subscription_config_id}.",
                    param="subscription_config_id",
                )
        customer = params.customer
        if customer is not None:
            # An id or the merchant's reference for it, by the customers' one rule.
            found = await connections.find(
                session,
                caller,
                customer,
                "customer_id" if params.customer_id is not None else "connection_id",
            )
            checkout.connection_id = found[0].id
            wallet = found[1]
            if wallet.phone is None:
                raise InvalidRequest(
                    "connection_id: the connection's wallet has no phone number on file, so its "
                    "owner cannot confirm this checkout with a one-time code.",
                    param="connection_id",
                )
            if (
                params.checkout_mode == "subscription"
                and await subscriptions.active_for_wallet(session, wallet.id) is not None
            ):
                raise Conflict(
                    "connection_id: the connection's wallet already has an active subscription.",
                    param="connection_id",
                )
            checkout.wallet_id = wallet.id
            checkout.phone = wallet.phone
        await repository.add(session, checkout)
    return checkout


async def retrieve(db: Database, caller: Caller, checkout_session_id: str) -> CheckoutSession:
    async with db.read() as session:
        found = await repository.get(
            session, caller.merchant_id, caller.livemode, checkout_session_id
        )
    if found is None:
        raise NotFound(f"No checkout session {checkout_session_id}.", param="checkout_session_id")
    return found


async def list_page(
    db: Database, caller: Caller, cursor: str | None, limit: int, reference_id: str | None
) -> Sequence[CheckoutSession]:
    async with db.read() as session:
        return await repository.page(
            session, caller.merchant_id, caller.livemode, cursor, limit, reference_id
        )
