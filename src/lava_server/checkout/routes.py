from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from lava_server.api.auth import Caller, authenticate, secret_key
from lava_server.api.pagination import PageParams, page, page_params
from lava_server.api.schemas import Page, errors
from lava_server.checkout import service
from lava_server.checkout.schemas import CheckoutSessionCreate, RestCheckoutSession
from lava_server.ids import id_pattern
from lava_server.payments.context import Billing, get_billing

router = APIRouter(
    prefix="/v1/checkout_sessions",
    tags=["checkout sessions"],
    dependencies=[secret_key],
    responses=errors(400, 401, 429),
)


@router.post(
    "",
    status_code=201,
    summary="Create a checkout session",
    responses=errors(404, 409, 413),
)
async def create_checkout_session(
    body: CheckoutSessionCreate,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> RestCheckoutSession:
    created = await service.create(billing, caller, body, billing.now())
    return service.render(created, billing.settings.public_base)


@router.get("", summary="List checkout sessions, newest first")
async def list_checkout_sessions(
    reference_id: str | None = Query(None, max_length=255),
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestCheckoutSession]:
    params.check_cursor(id_pattern("cs", caller.livemode))
    rows = await service.list_page(billing.db, caller, params.cursor, params.limit, reference_id)
    base = billing.settings.public_base
    return page(rows, params.limit, lambda row: service.render(row, base), lambda row: row.id)


@router.get("/{checkout_session_id}", summary="Retrieve a checkout session", responses=errors(404))
async def retrieve_checkout_session(
    checkout_session_id: str,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> RestCheckoutSession:
    found = await service.retrieve(billing.db, caller, checkout_session_id)
    return service.render(found, billing.settings.public_base)
