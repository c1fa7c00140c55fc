"""`/v1/spend_keys` (`docs/current-api.md#spend-keys`): thin routes over `service`, at the paths
the 11.2.0 SDK's `spendKeys` calls."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from lava_server.api.auth import Caller, authenticate, secret_key
from lava_server.api.pagination import PageParams, page, page_params
from lava_server.api.schemas import Page, Success, errors
from lava_server.api.state import AppState, get_state
from lava_server.ids import id_pattern
from lava_server.spend_keys import service
from lava_server.spend_keys.schemas import (
    RestSpendKey,
    RestSpendKeyCreated,
    SpendKeyCreate,
    SpendKeyUpdate,
)
from lava_server.timeutil import utcnow

router = APIRouter(
    prefix="/v1/spend_keys",
    tags=["spend keys"],
    dependencies=[secret_key],
    responses=errors(400, 401, 429),
)


@router.post(
    "",
    status_code=201,
    summary="Create a spend key (its raw key is shown once)",
    responses=errors(404),
)
async def create_spend_key(
    body: SpendKeyCreate,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestSpendKeyCreated:
    return await service.create(state.db, caller, body)


@router.get("", summary="List the spend keys not revoked, newest first")
async def list_spend_keys(
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestSpendKey]:
    params.check_cursor(id_pattern("spk", caller.livemode))
    rows = await service.list_page(state.db, caller, params.cursor, params.limit)
    now = utcnow()
    return page(rows, params.limit, lambda row: service.render(row, now), lambda row: row[0].id)


@router.get("/{spend_key_id}", summary="Retrieve a spend key", responses=errors(404))
async def retrieve_spend_key(
    spend_key_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> RestSpendKey:
    return await service.retrieve(state.db, caller, spend_key_id)


@router.put(
    "/{spend_key_id}",
    summary="Update a spend key (fields left out stay, null clears)",
    responses=errors(404),
)
async def update_spend_key(
    spend_key_id: str,
    body: SpendKeyUpdate,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestSpendKey:
    return await service.update(state.db, caller, spend_key_id, body)


@router.delete(
    "/{spend_key_id}", summary="Revoke a spend key (it stops at once)", responses=errors(404)
)
async def revoke_spend_key(
    spend_key_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> Success:
    await service.revoke(state.db, caller, spend_key_id)
    return {"success": True}


@router.post(
    "/{spend_key_id}/rotate",
    summary="Rotate a spend key (a new raw key, shown once; the old one stops at once)",
    responses=errors(404),
)
async def rotate_spend_key(
    spend_key_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> RestSpendKeyCreated:
    return await service.rotate(state.db, caller, spend_key_id)
