"""The Checkout page: the mode's recent checkout sessions and their state (the service behind
`GET /v1/checkout_sessions`), and a "try checkout" form that creates a session through the
service behind `POST /v1/checkout_sessions` and opens its hosted page. In live mode without
live providers the service's 409 is shown as it is."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from lava_server.checkout import service as checkout
from lava_server.checkout.page import router as hosted_page
from lava_server.checkout.schemas import CheckoutSessionCreate
from lava_server.dashboard.web import (
    PREFIX,
    Action,
    Page,
    admin_action,
    list_cursor,
    parsed,
    signed_in,
)
from lava_server.db.models import CheckoutSession
from lava_server.errors import ApiError
from lava_server.ids import id_pattern

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LIST_LIMIT = 20
MODES = ("onboarding", "topup", "subscription")


def state_of(session: CheckoutSession, now: datetime) -> str:
    """completed, expired or open (the hosted page's own rule: `expires_at` passed)."""
    if session.completed_at is not None:
        return "completed"
    if session.expires_at <= now:
        return "expired"
    return "open"


async def _view(
    page: Page,
    cursor: str = "",
    *,
    problem: str | None = None,
    form: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    after = list_cursor(cursor, id_pattern("cs", page.livemode))
    rows = await checkout.list_page(page.db, page.caller, after, LIST_LIMIT, None)
    shown = rows[:LIST_LIMIT]
    now = page.billing.now()
    items = [{"session": row, "state": state_of(row, now), "mode": row.mode} for row in shown]
    live_missing = page.billing.live_mode_missing() if page.livemode else []
    return page.render(
        "checkout.html",
        status,
        items=items,
        next_url=page.url("checkout") + f"?cursor={shown[-1].id}"
        if len(rows) > LIST_LIMIT
        else None,
        first_url=page.url("checkout") if after else None,
        problem=problem,
        form=form or {},
        modes=MODES,
        live_missing=live_missing,
    )


@router.get("/{mode}/checkout")
async def checkout_list(page: Page = Depends(signed_in), cursor: str = "") -> Response:
    return await _view(page, cursor[:100])


@router.post("/{mode}/checkout/try")
async def try_checkout(act: Action = Depends(admin_action)) -> Response:
    """A session of the page's mode, made by the API's service; then its hosted page."""
    page = act.page
    body: dict[str, Any] = {
        "checkout_mode": act.form.get("checkout_mode", "onboarding"),
        # The hosted page may be framed by, and reports to, this dashboard's origin.
        "origin_url": page.public_base.rstrip("/"),
    }
    for field in ("customer_id", "plan_id", "reference_id"):
        value = act.form.get(field, "").strip()
        if value:
            body[field] = value
    try:
        params = parsed(CheckoutSessionCreate, body)
        created = await checkout.create(page.billing, page.caller, params, page.billing.now())
    except ApiError as error:
        return await _view(page, problem=error.message, form=act.form, status=error.status)
    return RedirectResponse(f"{hosted_page.prefix}/{created.secret}", status_code=303)
