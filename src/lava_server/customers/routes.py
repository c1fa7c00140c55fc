"""`/v1/customers` of the current API (`docs/current-api.md#customers`): thin routes over
`connections.service`, which the seed-era `/v1/connections` routes use too."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from lava_server.api.auth import Caller, authenticate, secret_key
from lava_server.api.pagination import PageParams, page, page_params
from lava_server.api.schemas import Page, Success, errors
from lava_server.api.state import AppState, get_state
from lava_server.connections import service as connections
from lava_server.connections.schemas import CustomerCreate, CustomerUpdate
from lava_server.customers import service
from lava_server.customers.schemas import CustomerSubscriptionAnswer, RestCustomer
from lava_server.ids import id_pattern

router = APIRouter(
    prefix="/v1/customers",
    tags=["customers"],
    dependencies=[secret_key],
    responses=errors(400, 401, 429),
)


@router.post("", status_code=201, summary="Create a customer (idempotent on reference_id)")
async def create_customer(
    body: CustomerCreate,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestCustomer:
    return await service.render_one(
        state.db, await connections.create_customer(state.db, caller, body)
    )


@router.get("", summary="List customers, newest first")
async def list_customers(
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestCustomer]:
    params.check_cursor(id_pattern("con", caller.livemode))
    rows = await connections.list_page(state.db, caller, params.cursor, params.limit, None)
    running = await service.running_for(state.db, [row[0] for row in rows[: params.limit]])
    return page(
        rows, params.limit, lambda row: service.render(row[0], running), lambda row: row[0].id
    )


@router.get(
    "/{customer_id}", summary="Retrieve a customer (by id or reference_id)", responses=errors(404)
)
async def retrieve_customer(
    customer_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> RestCustomer:
    found = await connections.retrieve(state.db, caller, customer_id, param="customer_id")
    return await service.render_one(state.db, found)


@router.patch(
    "/{customer_id}",
    summary="Update a customer (fields left out stay, null clears)",
    responses=errors(404, 409),
)
async def update_customer(
    customer_id: str,
    body: CustomerUpdate,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestCustomer:
    found = await connections.update_customer(state.db, caller, customer_id, body)
    return await service.render_one(state.db, found)


@router.get(
    "/{customer_id}/subscription",
    summary="The customer's running subscription, or null",
    responses=errors(404),
)
async def customer_subscription(
    customer_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> CustomerSubscriptionAnswer:
    return await service.subscription_of(state.db, caller, customer_id)


@router.delete(
    "/{customer_id}",
    summary="Delete a customer (= deleting its connection)",
    responses=errors(404),
)
async def delete_customer(
    customer_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> Success:
    await connections.delete(state.db, caller, customer_id, param="customer_id")
    return {"success": True}
