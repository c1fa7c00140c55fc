"""`/v1/requests`: report usage (the metering hot path) and read what was reported.

The report route needs the process's group commit; `app.py` gives it (`CreateRequest`) and builds
the router with `router_with`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from lava_server.api.auth import Caller, authenticate, presented_key, secret_key
from lava_server.api.names import either
from lava_server.api.pagination import PageParams, page, page_params
from lava_server.api.responses import JSONBody
from lava_server.api.schemas import Page, errors
from lava_server.api.state import AppState, get_state
from lava_server.connections import service as connections
from lava_server.errors import answer_for, note_failed_auth
from lava_server.metadata import parse_metadata_filters
from lava_server.metering.reported import Created
from lava_server.requests import service
from lava_server.requests.schemas import RequestCreate, RestRequest

Submit = Callable[[str, RequestCreate], Awaitable[Created]]
"""Stores, prices and charges one report sent with the secret key of this hash."""


class CreateRequest:
    """`POST /v1/requests`, given the function that stores a report (the group commit)."""

    def __init__(self, submit: Submit) -> None:
        self.submit = submit

    async def endpoint(self, request: Request) -> JSONBody:
        """The metering hot path: the body is parsed and validated in one step by pydantic (from
        bytes), without FastAPI's dependency machinery; errors take the same 400 form."""
        key_hash = await presented_key(request)
        try:
            body = RequestCreate.model_validate_json(await request.body())
        except ValidationError as error:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
            ) from None
        body.check_names()
        result = await self.submit(key_hash, body)
        return JSONBody(service.render(result.request), status_code=201 if result.created else 200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The endpoint as a bare ASGI app, answering its failures the way the app's error
        handlers do (`app.HotPaths` sends the hot path here without routing)."""
        try:
            response: Response = await self.endpoint(Request(scope, receive))
        except Exception as error:
            note_failed_auth(scope, error)
            answer = answer_for(error)
            if answer is None:
                raise  # a bug: the app's 500 handler answers it
            response = answer
        await response(scope, receive, send)


def router_with(create: CreateRequest) -> APIRouter:
    """The `POST /v1/requests` route of one app (`read` has the others). `app.HotPaths` answers
    the report before routing; its route is here for the API document (and the same handler)."""
    router = _router()
    router.add_api_route(
        "",
        create.endpoint,
        methods=["POST"],
        name="create_request",
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
    return router


def _router() -> APIRouter:
    return APIRouter(
        prefix="/v1/requests",
        tags=["requests"],
        dependencies=[secret_key],
        responses=errors(400, 401, 429),
    )


read = _router()  # the read side needs nothing but the state
CUSTOMER = "A customer id, or the merchant's reference_id for it."


@read.get("", summary="List requests, newest first")
async def list_requests(
    customer_id: str | None = Query(None, max_length=255, description=CUSTOMER),
    connection_id: str | None = Query(None, max_length=255, description="= customer_id."),
    meter_id: str | None = Query(None, max_length=64),
    product_id: str | None = Query(None, max_length=64, description="= meter_id."),
    metadata_filters: str | None = Query(None, description='JSON [["key","value"], ...]'),
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestRequest]:
    customer = either("customer_id", customer_id, "connection_id", connection_id)
    rows = await service.list_page(
        state.db,
        caller,
        cursor=params.cursor,
        limit=params.limit,
        connection_id=None
        if customer is None
        else await connections.connection_id_of(state.db, caller, customer),
        product_id=either("meter_id", meter_id, "product_id", product_id),
        metadata_filters=parse_metadata_filters(metadata_filters),
    )
    return page(rows, params.limit, service.render, lambda request: request.request_id)


@read.get(
    "/{request_id:path}", summary="Retrieve a request by its request_id", responses=errors(404)
)
async def retrieve_request(
    request_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> RestRequest:
    return service.render(await service.retrieve(state.db, caller, request_id))
