from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from lava_server.api.auth import Caller, authenticate, secret_key
from lava_server.api.names import either
from lava_server.api.responses import JSONBody
from lava_server.api.schemas import errors
from lava_server.api.state import AppState, get_state
from lava_server.connections import service as connections
from lava_server.metadata import parse_metadata_filters
from lava_server.usage import service
from lava_server.usage.schemas import RestUsage

router = APIRouter(
    prefix="/v1/usage",
    tags=["usage"],
    dependencies=[secret_key],
    responses=errors(400, 401, 429),
)


@router.get(
    "",
    # Documented, not validated: a year of days is written straight to bytes.
    response_model=None,
    responses={200: {"model": RestUsage, "description": "Daily usage."}},
    summary="Daily usage in the time zone of start's UTC offset",
)
async def retrieve_usage(
    start: str = Query(
        ...,
        max_length=64,
        description="ISO 8601; its offset sets the zone.",
        examples=["2025-05-01T00:00:00+05:30"],
    ),
    end: str | None = Query(
        None,
        max_length=64,
        description="Inclusive; default now.",
        examples=["2025-05-31T23:59:59+05:30"],
    ),
    customer_id: str | None = Query(
        None, max_length=255, description="A customer id, or the merchant's reference_id for it."
    ),
    connection_id: str | None = Query(None, max_length=255, description="= customer_id."),
    meter_id: str | None = Query(None, max_length=64),
    product_id: str | None = Query(None, max_length=64, description="= meter_id."),
    metadata_filters: str | None = Query(None, description='JSON [["key","value"], ...]'),
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> JSONBody:
    customer = either("customer_id", customer_id, "connection_id", connection_id)
    body = await service.retrieve(
        state.db,
        caller,
        start=start,
        end=end,
        connection_id=None
        if customer is None
        else await connections.connection_id_of(state.db, caller, customer),
        product_id=either("meter_id", meter_id, "product_id", product_id),
        metadata_filters=parse_metadata_filters(metadata_filters),
    )
    return JSONBody(body)
