"""`/v1/customers/{id}/credits`, `/adjustments` (and their `/v1/connections/{id}/...` twins),
`/v1/refunds` and `/v1/payments`: thin routes over `money_ops.service`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from lava_server.api.auth import Caller, authenticate, secret_key
from lava_server.api.names import either
from lava_server.api.pagination import PageParams, page_params
from lava_server.api.schemas import Page, errors
from lava_server.errors import ErrorEnvelope
from lava_server.ids import id_pattern
from lava_server.money_ops import service
from lava_server.money_ops.schemas import (
    AdjustmentCreate,
    CreditCreate,
    RefundCreate,
    RestBalanceOperation,
    RestPayment,
    RestRefund,
)
from lava_server.payments.context import Billing, get_billing

router = APIRouter(
    tags=["money"], dependencies=[secret_key], responses=errors(400, 401, 404, 409, 413, 429)
)

_NO_MONEY: dict[int | str, dict[str, Any]] = {
    402: {
        "model": ErrorEnvelope,
        "description": "The wallet does not hold that much (`insufficient_balance`, `param` "
        "`amount`), or the payment provider refused the refund (`refund_failed`); nothing moved.",
    }
}


_GRANT = "Grant credit paid by the merchant (shown as a grant, not a payment)"
_ADJUST = "Correct the wallet's balance by a signed amount (down to zero at most)"


def _key(request: Request) -> str | None:
    """The request's `Idempotency-Key`, kept with the operation it makes."""
    return request.headers.get("idempotency-key")


@router.post("/v1/customers/{customer_id}/credits", status_code=201, summary=_GRANT)
async def grant_customer_credit(
    customer_id: str,
    body: CreditCreate,
    request: Request,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> RestBalanceOperation:
    return await service.grant_credit(
        billing, caller, customer_id, body, param="customer_id", idempotency_key=_key(request)
    )


@router.post("/v1/connections/{connection_id}/credits", status_code=201, summary=_GRANT)
async def grant_connection_credit(
    connection_id: str,
    body: CreditCreate,
    request: Request,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> RestBalanceOperation:
    return await service.grant_credit(
        billing, caller, connection_id, body, param="connection_id", idempotency_key=_key(request)
    )


@router.post(
    "/v1/customers/{customer_id}/adjustments",
    status_code=201,
    summary=_ADJUST,
    responses=_NO_MONEY,
)
async def adjust_customer(
    customer_id: str,
    body: AdjustmentCreate,
    request: Request,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> RestBalanceOperation:
    return await service.adjust(
        billing, caller, customer_id, body, param="customer_id", idempotency_key=_key(request)
    )


@router.post(
    "/v1/connections/{connection_id}/adjustments",
    status_code=201,
    summary=_ADJUST,
    responses=_NO_MONEY,
)
async def adjust_connection(
    connection_id: str,
    body: AdjustmentCreate,
    request: Request,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> RestBalanceOperation:
    return await service.adjust(
        billing, caller, connection_id, body, param="connection_id", idempotency_key=_key(request)
    )


@router.post(
    "/v1/refunds",
    status_code=201,
    summary="Refund a top-up payment, whole or partly, through its provider",
    responses={**_NO_MONEY, **errors(502)},
)
async def create_refund(
    body: RefundCreate,
    request: Request,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> RestRefund:
    return await service.create_refund(
        billing, caller, body, request.headers.get("idempotency-key")
    )


@router.get("/v1/refunds/{refund_id}", summary="Retrieve a refund")
async def retrieve_refund(
    refund_id: str, billing: Billing = Depends(get_billing), caller: Caller = Depends(authenticate)
) -> RestRefund:
    return await service.retrieve_refund(billing, caller, refund_id)


@router.get("/v1/payments", summary="List payments with their refunds, newest first")
async def list_payments(
    customer_id: str | None = Query(None, max_length=255),
    connection_id: str | None = Query(None, max_length=255),
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestPayment]:
    params.check_cursor(id_pattern("pay", caller.livemode))
    customer = either("customer_id", customer_id, "connection_id", connection_id)
    data, has_more = await service.list_payments(
        billing, caller, params.cursor, params.limit, customer
    )
    body: Page[RestPayment] = {"data": data, "has_more": has_more}
    if has_more:
        body["next_cursor"] = data[-1]["id"]
    return body


@router.get("/v1/payments/{payment_id}", summary="Retrieve a payment with its refunds")
async def retrieve_payment(
    payment_id: str, billing: Billing = Depends(get_billing), caller: Caller = Depends(authenticate)
) -> RestPayment:
    return await service.retrieve_payment(billing, caller, payment_id)
