"""The Customers list and a customer's page, with the admin's actions on it: grant credit,
adjust, refund a payment, cancel the subscription, delete. Each action calls the service
function that the API's route calls, with the same body model, so the rules and the messages
are the API's; a refusal is shown on the page, next to its form."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from lava_server.connections import service as connections
from lava_server.customers import service as customers
from lava_server.dashboard.web import (
    PREFIX,
    Action,
    Page,
    Refused,
    admin_action,
    list_cursor,
    parsed,
    signed_in,
    utc_field,
)
from lava_server.errors import ApiError, InvalidRequest
from lava_server.ids import id_pattern
from lava_server.money_ops import service as money_ops
from lava_server.money_ops.schemas import AdjustmentCreate, CreditCreate, RefundCreate
from lava_server.requests import service as requests
from lava_server.spend_keys import service as spend_keys
from lava_server.subscriptions import current as subscriptions
from lava_server.timeutil import utcnow
from lava_server.usage import service as usage
from lava_server.wallets import service as wallets

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LIST_LIMIT = 20
DETAIL_LIMIT = 10
USAGE_DAYS = 30
_MAX_SEARCH = 320


@router.get("/{mode}/customers")
async def customer_list(page: Page = Depends(signed_in), q: str = "", cursor: str = "") -> Response:
    search = q.strip()[:_MAX_SEARCH] or None
    after = list_cursor(cursor, id_pattern("con", page.livemode))
    rows = await connections.list_page(page.db, page.caller, after, LIST_LIMIT, None, search)
    shown = rows[:LIST_LIMIT]
    running = await customers.running_for(page.db, [row[0] for row in shown])
    last = await usage.last_activity(page.db, page.caller, [row[0].id for row in shown])
    items = [
        {
            "customer": customers.render(connection, running),
            "wallet": wallet,
            "available": wallet.balance - wallet.held,
            "last_activity": last.get(connection.id),
        }
        for connection, wallet in shown
    ]
    next_url = None
    if len(rows) > LIST_LIMIT:
        next_url = page.url("customers") + f"?cursor={shown[-1][0].id}"
        if search:
            next_url += "&q=" + _quote(search)
    return page.render(
        "customers.html",
        items=items,
        q=search or "",
        next_url=next_url,
        first_url=(page.url("customers") + (f"?q={_quote(search)}" if search else ""))
        if after
        else None,
    )


def _quote(text: str) -> str:
    return quote(text, safe="")


async def _customer_view(
    page: Page,
    customer_id: str,
    *,
    cursors: Mapping[str, str] | None = None,
    problems: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    caller = page.caller
    cursors = cursors or {}
    connection, wallet = await connections.retrieve(
        page.db, caller, customer_id, param="customer_id"
    )
    # Requests: the API's list (cursor: a request_id).
    request_rows = await requests.list_page(
        page.db,
        caller,
        cursor=cursors.get("requests") or None,
        limit=DETAIL_LIMIT,
        connection_id=connection.id,
        product_id=None,
        metadata_filters={},
    )
    ledger_before = cursors.get("ledger")
    ledger_rows = await wallets.ledger_page(
        page.db,
        caller.merchant_id,
        wallet.id,
        int(ledger_before) if ledger_before and ledger_before.isdigit() else None,
        DETAIL_LIMIT,
    )
    payments, more_payments = await money_ops.list_payments(
        page.billing,
        caller,
        list_cursor(cursors.get("payments"), id_pattern("pay", page.livemode)),
        DETAIL_LIMIT,
        connection.id,
    )
    keys = await spend_keys.list_page(page.db, caller, None, DETAIL_LIMIT, connection.id)
    subscription = (await customers.subscription_of(page.db, caller, connection.id))["subscription"]
    today = utcnow().date()
    series = await usage.retrieve(
        page.db,
        caller,
        start=(today - timedelta(days=USAGE_DAYS - 1)).isoformat(),
        end=today.isoformat(),
        connection_id=connection.id,
        product_id=None,
        metadata_filters={},
    )
    here = page.url(f"customers/{connection.id}")
    chart = {
        "title": f"Usage per day, last {USAGE_DAYS} days",
        "unit": "USD",
        "x": [item["date"] for item in series["items"]],
        "series": [
            {
                "name": "Fees",
                "color": "#0072B2",
                "y": [item["total_fee_amount"] for item in series["items"]],
            },
            {
                "name": "Wallet cost",
                "color": "#D55E00",
                "y": [item["total_wallet_cost"] for item in series["items"]],
            },
        ],
    }
    return page.render(
        "customer.html",
        status,
        customer=customers.render(connection, {}),
        connection=connection,
        wallet=wallet,
        available=wallet.balance - wallet.held,
        requests=[requests.render(row) for row in request_rows[:DETAIL_LIMIT]],
        requests_next=f"{here}?requests={request_rows[DETAIL_LIMIT - 1].request_id}"
        if len(request_rows) > DETAIL_LIMIT
        else None,
        ledger=ledger_rows[:DETAIL_LIMIT],
        ledger_next=f"{here}?ledger={ledger_rows[DETAIL_LIMIT - 1].id}"
        if len(ledger_rows) > DETAIL_LIMIT
        else None,
        payments=payments,
        payments_next=f"{here}?payments={payments[-1]['id']}" if more_payments else None,
        keys=[spend_keys.render(found) for found in keys[:DETAIL_LIMIT]],
        subscription=subscription,
        chart=chart,
        chart_json=json.dumps({"usage": chart}),
        usage_totals=series["totals"],
        problems=problems or {},
        form=form or {},
        idempotency_key=secrets.token_urlsafe(16),
        here=here,
    )


@router.get("/{mode}/customers/{customer_id}")
async def customer_page(
    customer_id: str,
    page: Page = Depends(signed_in),
    requests: str = "",
    ledger: str = "",
    payments: str = "",
) -> Response:
    try:
        return await _customer_view(
            page,
            customer_id,
            cursors={"requests": requests[:255], "ledger": ledger[:20], "payments": payments},
        )
    except ApiError as error:
        raise Refused(error.status, error.message) from None


async def _act(act: Action, customer_id: str, form_name: str, work: Any, notice: str) -> Response:
    """Run `work()`; on success back to the customer's page (303) with a notice, on a refusal
    the page again with the message by the form (the API's status)."""
    page = act.page
    try:
        await work()
    except ApiError as error:
        try:
            return await _customer_view(
                page,
                customer_id,
                problems={form_name: error.message},
                form=act.form,
                status=error.status,
            )
        except ApiError as gone:
            raise Refused(gone.status, gone.message) from None
    return page.redirect(f"customers/{customer_id}", notice)


@router.post("/{mode}/customers/{customer_id}/grant")
async def grant(customer_id: str, act: Action = Depends(admin_action)) -> Response:
    page = act.page

    async def work() -> None:
        params = parsed(
            CreditCreate,
            {
                "amount": act.form.get("amount", ""),
                "reason": act.form.get("reason", ""),
                "expires_at": utc_field(act.form.get("expires_at", "")),
            },
        )
        await money_ops.grant_credit(
            page.billing, page.caller, customer_id, params, param="customer_id"
        )

    return await _act(act, customer_id, "grant", work, "Credit granted.")


@router.post("/{mode}/customers/{customer_id}/adjust")
async def adjust(customer_id: str, act: Action = Depends(admin_action)) -> Response:
    page = act.page

    async def work() -> None:
        params = parsed(
            AdjustmentCreate,
            {"amount": act.form.get("amount", ""), "reason": act.form.get("reason", "")},
        )
        await money_ops.adjust(page.billing, page.caller, customer_id, params, param="customer_id")

    return await _act(act, customer_id, "adjust", work, "Balance adjusted.")


@router.post("/{mode}/customers/{customer_id}/refund")
async def refund(customer_id: str, act: Action = Depends(admin_action)) -> Response:
    page = act.page

    async def work() -> None:
        # The payment must be this customer's: the page offers only those.
        connection, _ = await connections.retrieve(
            page.db, page.caller, customer_id, param="customer_id"
        )
        payment_id = act.form.get("payment_id", "")[:64]
        payment = await money_ops.retrieve_payment(page.billing, page.caller, payment_id)
        if payment["customer_id"] != connection.id:
            raise InvalidRequest(
                f"Payment {payment_id} is not this customer's.", param="payment_id"
            )
        params = parsed(
            RefundCreate,
            {"payment_id": payment_id, "amount": act.form.get("amount", "").strip() or None},
        )
        key = act.form.get("idempotency_key", "")[:64]
        await money_ops.create_refund(
            page.billing, page.caller, params, f"dashboard:{key}" if key else None
        )

    return await _act(act, customer_id, "refund", work, "Refund made.")


@router.post("/{mode}/customers/{customer_id}/cancel-subscription")
async def cancel_subscription(customer_id: str, act: Action = Depends(admin_action)) -> Response:
    page = act.page

    async def work() -> None:
        await connections.retrieve(page.db, page.caller, customer_id, param="customer_id")
        subscription_id = act.form.get("subscription_id", "")
        running = (await customers.subscription_of(page.db, page.caller, customer_id))[
            "subscription"
        ]
        if running is None or running["subscription_id"] != subscription_id:
            raise InvalidRequest(
                "This customer runs no such subscription.", param="subscription_id"
            )
        await subscriptions.cancel(page.db, page.caller, subscription_id, page.billing.now())

    return await _act(
        act,
        customer_id,
        "cancel",
        work,
        "Subscription cancelled: it ends at the end of its cycle.",
    )


@router.post("/{mode}/customers/{customer_id}/delete")
async def delete(customer_id: str, act: Action = Depends(admin_action)) -> Response:
    page = act.page
    try:
        await connections.delete(page.db, page.caller, customer_id, param="customer_id")
    except ApiError as error:
        raise Refused(error.status, error.message) from None
    return page.redirect("customers", f"Customer {customer_id} deleted.")
