"""The read side of requests: one request and the list, as the API renders them (reports are
charged by `metering.reported`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from lava_server.api.auth import Caller
from lava_server.db.engine import Database
from lava_server.db.models import Request
from lava_server.errors import InvalidRequest, NotFound
from lava_server.pricing import (
    format_money,
)
from lava_server.products.schemas import Payer, RateType, TokenBasis
from lava_server.requests import repository
from lava_server.requests.schemas import (
    FeeBreakdown,
    KeyType,
    RequestStatus,
    RestRequest,
)
from lava_server.timeutil import iso


def render(request: Request) -> RestRequest:
    """`RestRequest` of both eras: the seed's fields and the current API's."""
    fee_amount = format_money(request.fee_amount)
    rate_type = cast(RateType, request.rate_type)
    breakdown = cast(list[FeeBreakdown], request.fee_breakdown)
    total_cost = format_money(request.total_cost)
    body: RestRequest = {
        "request_id": request.request_id,
        "status": cast(RequestStatus, request.status),
        "provider": request.provider,
        "provider_key_type": cast(KeyType, request.provider_key_type),
        "endpoint": request.endpoint,
        "model_usage": {
            "input_tokens": request.input_tokens,
            "output_tokens": request.output_tokens,
            "total_tokens": request.input_tokens + request.output_tokens,
            "input_characters": request.input_characters,
            "output_characters": request.output_characters,
            "total_characters": request.input_characters + request.output_characters,
            "input_seconds": request.input_seconds,
            "output_seconds": request.output_seconds,
            "total_seconds": request.input_seconds + request.output_seconds,
            "input_cost": format_money(request.input_cost),
            "output_cost": format_money(request.output_cost),
            "total_cost": total_cost,
            "payer": cast(Payer, request.model_payer),
        },
        "fee": {
            "amount": fee_amount,
            "rate_type": rate_type,
            "token_basis": cast(TokenBasis, request.token_basis),
            "breakdown": breakdown,
        },
        "service_charge": {
            "amount": format_money(request.service_charge_amount),
            "payer": cast(Payer, request.service_charge_payer),
        },
        "cost": total_cost,
        "charge": {"amount": fee_amount, "rate_type": rate_type, "breakdown": breakdown},
        "total_request_cost": format_money(request.total_request_cost),
        "total_wallet_cost": format_money(request.total_wallet_cost),
        "total_merchant_cost": format_money(request.total_merchant_cost),
        "metadata": request.request_metadata,
        "created_at": iso(request.created_at),
    }
    if request.connection_id is not None:
        body["connection_id"] = body["customer_id"] = request.connection_id
    if request.product_id is not None:
        body["product_id"] = body["meter_id"] = request.product_id
    if request.model is not None:
        body["model"] = request.model
    if request.response_id is not None:
        body["response_id"] = request.response_id
    if request.timestamp is not None:
        body["timestamp"] = iso(request.timestamp)
    return body


async def retrieve(db: Database, caller: Caller, request_id: str) -> Request:
    async with db.read() as session:
        request = await repository.get(session, caller.merchant_id, caller.livemode, request_id)
    if request is None:
        raise NotFound(f"No request {request_id!r}.", param="request_id")
    return request


async def list_page(
    db: Database,
    caller: Caller,
    *,
    cursor: str | None,
    limit: int,
    connection_id: str | None,
    product_id: str | None,
    metadata_filters: dict[str, str],
    model: str | None = None,
    status: str | None = None,
) -> Sequence[Request]:
    """A page of requests, newest first (`limit + 1` rows: one more says there are more).
    `model` and `status` (the dashboard's filters) match exactly."""
    async with db.read() as session:
        before_seq = None
        if cursor is not None:
            anchor = await repository.get(session, caller.merchant_id, caller.livemode, cursor)
            if anchor is None:
                raise InvalidRequest("cursor is not a valid cursor for this list.", param="cursor")
            before_seq = anchor.seq
        return await repository.page(
            session,
            caller.merchant_id,
            caller.livemode,
            before_seq=before_seq,
            limit=limit,
            connection_id=connection_id,
            product_id=product_id,
            metadata_filters=metadata_filters,
            model=model,
            status=status,
        )


MODEL_SAMPLE = 10_000
"""`top_models` counts among this many of the latest requests (a bounded read)."""


async def top_models(
    db: Database, caller: Caller, since: datetime, limit: int = 5
) -> list[tuple[str, int, int]]:
    """The most used models since `since` among the latest `MODEL_SAMPLE` requests:
    `(model, requests, tokens)`, most requests first (a request without a model: "unknown")."""
    async with db.read() as session:
        rows = await repository.models_among_latest(
            session, caller.merchant_id, caller.livemode, since, MODEL_SAMPLE, limit
        )
    return [(row[0] or "unknown", int(row[1]), int(row[2] or 0)) for row in rows]
