from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from lava_server.api.auth import Caller, authenticate, secret_key
from lava_server.api.pagination import PageParams, page, page_params
from lava_server.api.schemas import Page, Success, errors
from lava_server.api.state import AppState, get_state
from lava_server.connections import service
from lava_server.connections.schemas import RestConnection, TestConnectionCreate, TestFund
from lava_server.ids import id_pattern

router = APIRouter(
    prefix="/v1/connections",
    tags=["connections"],
    dependencies=[secret_key],
    responses=errors(400, 401, 429),
)


@router.get("", summary="List connections, newest first")
async def list_connections(
    reference_id: str | None = Query(None, max_length=255),
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestConnection]:
    params.check_cursor(id_pattern("con", caller.livemode))
    rows = await service.list_page(state.db, caller, params.cursor, params.limit, reference_id)
    return page(rows, params.limit, lambda row: service.render(*row), lambda row: row[0].id)


@router.get(
    "/{connection_id}",
    summary="Retrieve a connection with its secret and wallet",
    responses=errors(404),
)
async def retrieve_connection(
    connection_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> RestConnection:
    return service.render(*await service.retrieve(state.db, caller, connection_id))


@router.delete(
    "/{connection_id}",
    summary="Delete a connection (its secret stops working)",
    responses=errors(404),
)
async def delete_connection(
    connection_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> Success:
    await service.delete(state.db, caller, connection_id)
    return {"success": True}


test_helpers = APIRouter(
    prefix="/v1/test_helpers/connections",
    tags=["test helpers"],
    dependencies=[secret_key],
    responses=errors(400, 401, 403, 409, 413, 429),
)


@test_helpers.post("", status_code=201, summary="Create a funded sandbox connection")
async def create_test_connection(
    body: TestConnectionCreate,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestConnection:
    return service.render(*await service.create_test_connection(state.db, caller, body))


@test_helpers.post(
    "/{connection_id}/fund", summary="Credit a sandbox connection's wallet", responses=errors(404)
)
async def fund_test_connection(
    connection_id: str,
    body: TestFund,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestConnection:
    return service.render(
        *await service.fund_test_connection(state.db, caller, connection_id, body)
    )
