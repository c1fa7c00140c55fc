"""The hosted checkout page, `GET/POST /embed/checkout/{secret}` (`docs/checkout-and-wallets.md`).

Every step is one server-rendered form that posts back to the same URL with an `action`; a
successful action answers 303 to the page (so a reload never repeats it), a refused one renders
the step again with the message next to its field. The page may be framed only by the session's
origin, and posts `lava_checkout_success` / `lava_checkout_cancel` to it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import stripe as stripe_sdk
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lava_server.checkout import codes, flow, live_payments
from lava_server.checkout.flow import Step, View
from lava_server.checkout.forms import FormError, dollars
from lava_server.checkout.schemas import origin_of
from lava_server.checkout.send_limits import SendLimits
from lava_server.payments.context import Billing, get_billing
from lava_server.web import templates

router = APIRouter(prefix="/embed/checkout", include_in_schema=False)

SECRET = re.compile(r"css_(live|test)_[A-Za-z0-9_-]{20,100}")
_MAX_FIELDS = 20
# Fields shown again after a refusal; card details never are.
_ECHOED = (
    "phone",
    "email",
    "first_name",
    "last_name",
    "amount",
    "autopay_threshold",
    "autopay_amount",
    "autopay",
    "code_channel",
)

# Pages that cannot be used: an expired session, a live one while live mode is not configured.
_STATUS = {Step.EXPIRED: 410, Step.UNAVAILABLE: 409}

Action = Callable[[Billing, flow.Asker, str, Mapping[str, str], datetime], Awaitable[None]]


def _form_only(
    handler: Callable[[Billing, str, Mapping[str, str], datetime], Awaitable[None]],
) -> Action:
    async def run(
        billing: Billing, _asker: flow.Asker, secret: str, form: Mapping[str, str], now: datetime
    ) -> None:
        await handler(billing, secret, form, now)

    return run


def _ignore_form(
    handler: Callable[[Billing, str, datetime], Awaitable[None]],
) -> Action:
    async def run(
        billing: Billing, _asker: flow.Asker, secret: str, _form: Mapping[str, str], now: datetime
    ) -> None:
        await handler(billing, secret, now)

    return run


ACTIONS: dict[str, Action] = {
    "details": flow.submit_details,
    "send_code": flow.send_code,
    "change_phone": _ignore_form(flow.change_phone),
    "verify": _form_only(flow.verify),
    "amount": _form_only(flow.choose_amount),
    "change_amount": _ignore_form(flow.change_amount),
    "pay": _form_only(flow.pay),
}


def _asker(request: Request) -> flow.Asker:
    """The client asking (its address: uvicorn's, from the proxy headers it trusts) and the
    server's send limits."""
    client = request.client.host if request.client is not None else "unknown"
    limits: SendLimits = request.app.state.code_limits
    return flow.Asker(client, limits)


def security_headers(origin: str | None, stripe_origin: str | None = None) -> dict[str, str]:
    """The page's headers; `stripe_origin`: a live payment step loads Stripe.js from there, and
    Stripe.js calls Stripe and frames its card fields and 3-D Secure challenge."""
    ancestors = origin or "'none'"
    script = connect = frame = ""
    if stripe_origin:
        script = f" {stripe_origin}"
        connect = f"; connect-src {stripe_origin} https://api.stripe.com"
        frame = f"; frame-src {stripe_origin} https://hooks.stripe.com"
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'self'; script-src 'self'{script}; "
            f"img-src 'self' data:{connect}{frame}; "
            f"form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


@router.get("/{secret}")
async def show(secret: str, billing: Billing = Depends(get_billing)) -> Response:
    return await _render(billing, secret)


@router.get("/{secret}/return")
async def stripe_return(
    secret: str,
    payment_intent: str = Query("", max_length=255),
    billing: Billing = Depends(get_billing),
) -> Response:
    """Where Stripe.js sends the customer after paying (`confirmPayment`'s `return_url`, or the
    page itself once the payment is confirmed): the PaymentIntent is read from Stripe and, if
    it succeeded, the session completed; then the page shows where the session is."""
    if SECRET.fullmatch(secret) and payment_intent.startswith("pi_"):
        now = billing.now()
        view = await flow.load(billing, secret, now)
        if view is not None and view.checkout.livemode:
            # Stripe not answering: the webhook completes it; the page shows the step meanwhile.
            with contextlib.suppress(stripe_sdk.StripeError):
                await live_payments.confirm(billing, payment_intent, now)
    return RedirectResponse(f"{router.prefix}/{secret}", status_code=303)


@router.post("/{secret}")
async def act(secret: str, request: Request, billing: Billing = Depends(get_billing)) -> Response:
    try:
        form = await _read_form(request)
    except FormError as error:
        return await _render(billing, secret, error=error)
    handler = ACTIONS.get(form.get("action", ""))
    if handler is None or not SECRET.fullmatch(secret):
        return await _render(billing, secret, error=FormError("Unknown action."))
    try:
        await handler(billing, _asker(request), secret, form, billing.now())
    except flow.StaleStep:
        pass
    except FormError as error:
        return await _render(billing, secret, error=error, form=form)
    return RedirectResponse(request.url.path, status_code=303)


async def _read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise FormError("Please submit the form on this page.", status=415)
    try:
        text = (await request.body()).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise FormError("Please submit the form on this page.") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def _masked(phone: str | None) -> str:
    return f"•••• {phone[-4:]}" if phone else ""


def _masked_email(email: str | None) -> str:
    if not email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


def _steps(view: View) -> list[dict[str, Any]]:
    checkout = view.checkout
    order: list[tuple[Step, str]] = []
    if flow.asks_details(checkout):
        order.append((Step.DETAILS, "Details"))
    order.append((Step.CODE, "Code"))
    if checkout.mode not in ("subscription", "credit_bundle"):
        order.append((Step.AMOUNT, "Amount"))
    order.append((Step.PAY, "Payment"))
    steps = [step for step, _ in order]
    if view.step not in steps:
        return []
    current = steps.index(view.step)
    return [
        {"label": label, "current": index == current, "done": index < current}
        for index, (_, label) in enumerate(order)
    ]


async def _render(
    billing: Billing,
    secret: str,
    *,
    error: FormError | None = None,
    form: Mapping[str, str] | None = None,
) -> Response:
    now = billing.now()
    view = await flow.load(billing, secret, now) if SECRET.fullmatch(secret) else None
    if view is None:
        html = templates.get_template("not_found.html").render()
        return HTMLResponse(html, status_code=404, headers=security_headers(None))
    checkout = view.checkout
    settings = billing.settings
    event = None
    if view.step is Step.DONE:
        event = json.dumps(
            {
                "type": "lava_checkout_success",
                "checkoutSessionId": checkout.id,
                "connectionId": checkout.connection_id,
            }
        )
    values = {key: (form or {}).get(key, "") for key in _ECHOED}
    origin = origin_of(checkout.origin_url)
    context: dict[str, Any] = {
        "origin": origin,
        "view": view,
        "checkout": checkout,
        "step": view.step.value,
        "steps": _steps(view),
        "error": error,
        "values": values,
        "event": event,
        "sandbox": view.sandbox,
        "merchant_name": view.merchant_name,
        "masked_phone": _masked(checkout.phone),
        "masked_email": _masked_email(checkout.email),
        "channels": view.channels,
        "code_channel": checkout.code_channel or view.channels[0],
        "by_email": checkout.code_channel == "email",
        "code_sent": checkout.code_hash is not None,
        "sandbox_code": checkout.sandbox_code if view.sandbox else None,
        "code_minutes": int(codes.CODE_LIFETIME.total_seconds() // 60),
        "asks_details": flow.asks_details(checkout),
        "min_amount": dollars(settings.checkout_min_amount),
        "max_amount": dollars(settings.checkout_max_amount),
        "dollars": dollars,
    }
    stripe_origin = None
    context["stripe"] = None
    if view.step is Step.PAY and checkout.livemode:
        try:
            intent = await live_payments.intent_for_page(billing, view)
        except FormError as problem:
            intent, error = None, error or problem
        if intent is not None:
            stripe_origin = origin_of(intent.js_url)
            context["stripe"] = {
                "js_url": intent.js_url,
                "publishable_key": intent.publishable_key,
                "client_secret": intent.client_secret,
                "return_url": f"{settings.public_base.rstrip('/')}{router.prefix}/{secret}/return",
            }
    status = error.status if error is not None else _STATUS.get(view.step, 200)
    context["error"] = error
    html = templates.get_template(f"{view.step.value}.html").render(context)
    return HTMLResponse(html, status_code=status, headers=security_headers(origin, stripe_origin))
