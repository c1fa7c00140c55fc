from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from lava_server.api.auth import Caller, authenticate
from lava_server.api.responses import JSONBody
from lava_server.metadata import parse_metadata_filters
from lava_server.state import AppState, get_state
from lava_server.usage import service

router = APIRouter(prefix="/v1/usage", tags=["usage"])


@router.get(
    "",
    response_model=None,
    responses={200: {"description": "RestUsage"}},
    summary="Daily usage in the time zone of start's UTC offset",
)
async def retrieve_usage(
    start: str = Query(..., max_length=64, description="ISO 8601; its offset sets the zone."),
    end: str | None = Query(None, max_length=64, description="Inclusive; default now."),
    connection_id: str | None = Query(None, max_length=64),
    product_id: str | None = Query(None, max_length=64),
    metadata_filters: str | None = Query(None, description='JSON [["key","value"], ...]'),
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> JSONBody:
    body = await service.retrieve(
        state.db,
        caller,
        start=start,
        end=end,
        connection_id=connection_id,
        product_id=product_id,
        metadata_filters=parse_metadata_filters(metadata_filters),
    )
    return JSONBody(body)
