"""`/v1/secret_keys` (`docs/current-api.md#secret-keys`): a merchant's keys of the mode of the
key that calls."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from lava_server.api.auth import Caller, authenticate, secret_key
from lava_server.api.pagination import PageParams, page, page_params
from lava_server.api.schemas import Deleted, Page, errors
from lava_server.api.state import AppState, get_state
from lava_server.db.models import ApiKey
from lava_server.ids import id_pattern
from lava_server.merchants import service
from lava_server.merchants.schemas import (
    RestSecretKey,
    RestSecretKeyCreate,
    SecretKeyCreate,
)
from lava_server.timeutil import iso

router = APIRouter(
    prefix="/v1/secret_keys",
    tags=["secret keys"],
    dependencies=[secret_key],
    responses=errors(400, 401, 429),
)


def render(key: ApiKey) -> RestSecretKey:
    return {
        "secret_key_id": key.id,
        "name": key.name,
        "secret_key_hint": key.hint,
        "created_at": iso(key.created_at),
    }


@router.post("", status_code=201, summary="Create a secret key (its secret is shown once)")
async def create_secret_key(
    body: SecretKeyCreate,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestSecretKeyCreate:
    new = await service.create_named_key(state.db, caller, body.name)
    assert new.key is not None
    return {**render(new.key), "secret_key": new.secret_key}


@router.get("", summary="List the active secret keys, newest first")
async def list_secret_keys(
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestSecretKey]:
    params.check_cursor(id_pattern("key", caller.livemode))
    rows = await service.page_keys(state.db, caller, params.cursor, params.limit)
    return page(rows, params.limit, render, lambda key: key.id)


@router.delete(
    "/{secret_key_id}",
    summary="Revoke a secret key (not the last one, nor one made less than 15 s ago)",
    responses=errors(404),
)
async def delete_secret_key(
    secret_key_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> Deleted:
    await service.revoke_own_key(state.db, caller, secret_key_id)
    return {"id": secret_key_id, "deleted": True}
