from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from lava_server.api.auth import Caller, authenticate, presented_key, secret_key
from lava_server.api.pagination import PageParams, page, page_params
from lava_server.api.responses import JSONBody
from lava_server.api.schemas import Page, errors
from lava_server.errors import answer_for, note_failed_auth
from lava_server.metadata import parse_metadata_filters
from lava_server.requests import service
from lava_server.requests.schemas import RequestCreate, RestRequest
from lava_server.state import AppState, get_state

router = APIRouter(
    prefix="/v1/requests",
    tags=["requests"],
    dependencies=[secret_key],
    responses=errors(400, 401, 429),
)


@router.post(
    "",
    status_code=201,
    # Documented, not validated: the hot path writes its answer straight to bytes.
    response_model=None,
    responses={
        201: {"model": RestRequest, "description": "Stored, priced and charged."},
        200: {"model": RestRequest, "description": "Already stored: the first answer again."},
        **errors(402, 404, 409, 413),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": RequestCreate.model_json_schema()}},
        }
    },
    summary="Report usage: priced and debited once per request_id (200 when already stored)",
)
async def create_request(request: Request) -> JSONBody:
    """The metering hot path: the body is parsed and validated in one step by pydantic (from
    bytes), without FastAPI's dependency machinery; errors take the same 400 form."""
    key_hash = await presented_key(request)
    try:
        body = RequestCreate.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None
    state = await get_state(request)
    result = await state.request_batcher.submit(key_hash, body)
    return JSONBody(service.render(result.request), status_code=201 if result.created else 200)


@router.get("", summary="List requests, newest first")
async def list_requests(
    connection_id: str | None = Query(None, max_length=64),
    product_id: str | None = Query(None, max_length=64),
    metadata_filters: str | None = Query(None, description='JSON [["key","value"], ...]'),
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestRequest]:
    rows = await service.list_page(
        state.db,
        caller,
        cursor=params.cursor,
        limit=params.limit,
        connection_id=connection_id,
        product_id=product_id,
        metadata_filters=parse_metadata_filters(metadata_filters),
    )
    return page(rows, params.limit, service.render, lambda request: request.request_id)


@router.get(
    "/{request_id:path}", summary="Retrieve a request by its request_id", responses=errors(404)
)
async def retrieve_request(
    request_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> RestRequest:
    return service.render(await service.retrieve(state.db, caller, request_id))


async def create_request_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """`create_request` as a bare ASGI app, answering its failures the way the app's error
    handlers do (`app.HotPaths` sends the hot path here without routing)."""
    try:
        response: Response = await create_request(Request(scope, receive))
    except Exception as error:
        note_failed_auth(scope, error)
        answer = answer_for(error)
        if answer is None:
            raise  # a bug: the app's 500 handler answers it
        response = answer
    await response(scope, receive, send)
