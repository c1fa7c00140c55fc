"""The checkout sessions API: create (with each mode's rules; live sessions only once live mode
is configured), list, retrieve."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from lava_server.api.auth import Caller
from lava_server.api.names import either
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
        body["connection_id"] = session.connection_id
        body["customer_id"] = session.connection_id
    if session.reference_id is not None:
        body["reference_id"] = session.reference_id
    if session.subscription_config_id is not None:
        body["subscription_config_id"] = session.subscription_config_id
        body["plan_id"] = session.subscription_config_id
    if session.credit_bundle_id is not None:
        body["credit_bundle_id"] = session.credit_bundle_id
    if session.completed_at is not None:
        body["completed_at"] = iso(session.completed_at)
    return body


def _one_name(params: CheckoutSessionCreate) -> None:
    """Either era's name of a field (`docs/current-api.md#shared-routes`): fold the current
    API's into the seed's, a 400 naming both when they differ."""
    params.connection_id = either(
        "customer_id", params.customer_id, "connection_id", params.connection_id
    )
    params.subscription_config_id = either(
        "plan_id", params.plan_id, "subscription_config_id", params.subscription_config_id
    )


def _check_mode(params: CheckoutSessionCreate) -> None:
    mode = params.checkout_mode
    name = "customer_id" if params.customer_id is not None else "connection_id"
    if mode == "credit_bundle":
        if params.connection_id is None:
            raise InvalidRequest(
                "customer_id is required when checkout_mode is credit_bundle.",
                param="customer_id",
            )
        if params.credit_bundle_id is None:
            raise InvalidRequest(
                "credit_bundle_id is required when checkout_mode is credit_bundle.",
                param="credit_bundle_id",
            )
        if params.subscription_config_id is not None:
            raise InvalidRequest(
                "plan_id is not accepted when checkout_mode is credit_bundle.", param="plan_id"
            )
        return
    if params.credit_bundle_id is not None:
        raise InvalidRequest(
            "credit_bundle_id is only accepted when checkout_mode is credit_bundle.",
            param="credit_bundle_id",
        )
    if mode == "topup" and params.connection_id is None:
        raise InvalidRequest(
            "connection_id is required when checkout_mode is topup.", param="connection_id"
        )
    if mode == "onboarding" and params.connection_id is not None:
        raise InvalidRequest(
            f"{name} is only accepted when checkout_mode is topup, subscription or "
            "credit_bundle (onboarding creates the connection).",
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
    _one_name(params)
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
        credit_bundle_id=params.credit_bundle_id,
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
                param = "plan_id" if params.plan_id is not None else "subscription_config_id"
                raise NotFound(f"No plan {params.subscription_config_id}.", param=param)
        if params.connection_id is not None:
            param = "customer_id" if params.customer_id is not None else "connection_id"
            # An id or the merchant's reference for it, by the customers' one rule.
            found = await connections.find(session, caller, params.connection_id, param)
            connection, wallet = found
            checkout.connection_id = connection.id
            phone = wallet.phone or connection.phone
            if phone is None:
                raise InvalidRequest(
                    f"{param}: no phone number is on file for it, so its owner cannot confirm "
                    "this checkout with a one-time code.",
                    param=param,
                )
            running = await subscriptions.active_for_wallet(session, wallet.id)
            # Changing plans (`docs/current-api.md#checkout`) is for the merchant's own
            # subscription; another merchant's on a shared wallet stays in the way.
            if (
                params.checkout_mode == "subscription"
                and running is not None
                and (
                    running.merchant_id != caller.merchant_id
                    or running.subscription_config_id == params.subscription_config_id
                )
            ):
                raise Conflict(
                    f"{param}: the customer's wallet already has an active subscription.",
                    param=param,
                )
            if params.checkout_mode == "credit_bundle":
                assert params.credit_bundle_id is not None
                bundle = await subscriptions.get_bundle(
                    session, caller.merchant_id, caller.livemode, params.credit_bundle_id
                )
                if bundle is None:
                    raise NotFound(
                        f"No credit bundle {params.credit_bundle_id}.", param="credit_bundle_id"
                    )
                if running is None or running.subscription_config_id != bundle.plan_id:
                    raise InvalidRequest(
                        "credit_bundle_id: the customer is not subscribed to the bundle's plan.",
                        param="credit_bundle_id",
                    )
                checkout.amount = bundle.cost
            checkout.wallet_id = wallet.id
            checkout.phone = phone
            # Where the page may send the code instead, when email codes are offered.
            checkout.email = wallet.email or connection.email
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
