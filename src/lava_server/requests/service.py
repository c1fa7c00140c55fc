"""Merchant-reported usage: price it, debit it, store it — in one transaction, exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from lava_server.api.auth import Caller
from lava_server.connections.repository import ConnectionRef
from lava_server.db.engine import Database
from lava_server.db.models import Request
from lava_server.errors import Conflict, InsufficientBalance, InvalidRequest, NotFound, Unauthorized
from lava_server.model_prices.book import (
    PRICE_ESTIMATED_KEY,
    ModelPricing,
    PriceBook,
    provider_for_model,
)
from lava_server.pricing import (
    MAX_AMOUNT,
    OutOfRange,
    PricedRequest,
    Usage,
    format_money,
    price_request,
)
from lava_server.products.repository import ProductRef
from lava_server.products.schemas import Payer, RateType, TokenBasis
from lava_server.requests import repository
from lava_server.requests.schemas import (
    FeeBreakdown,
    KeyType,
    RequestCreate,
    RequestStatus,
    RestRequest,
)
from lava_server.settings import Settings
from lava_server.timeutil import iso
from lava_server.wallets.ledger import Posting, wallet_account

MERCHANT_ENDPOINT = "POST /v1/requests"
ZERO = Decimal(0)


def postings_for(request: Request, priced: PricedRequest) -> list[Posting]:
    """`docs/pricing.md` step 7: wallet, merchant, provider and platform, summing to zero."""
    assert request.wallet_id is not None
    merchant = f"merchant:{request.merchant_id}"
    return [
        Posting(
            wallet_account(request.wallet_id), -priced.total_wallet_cost, "usage", request.wallet_id
        ),
        Posting(merchant, priced.fee_amount, "fee"),
        Posting(merchant, -priced.total_merchant_cost, "merchant_cost"),
        Posting(f"provider:{request.provider}", priced.total_cost, "provider_cost"),
        Posting("platform", priced.service_charge_amount, "service_charge"),
    ]


@dataclass(frozen=True)
class Created:
    request: Request
    created: bool  # False: the same report was already stored (answer 200, charge nothing)


def prepare(
    settings: Settings,
    prices: PriceBook,
    caller: Caller,
    params: RequestCreate,
    fingerprint: str,
    *,
    connection: ConnectionRef | None,
    product: ProductRef | None,
    available: Decimal,
    prior_units: int,
    now: datetime,
) -> tuple[Request, PricedRequest]:
    """Check a new report against its connection and product, price it, and check the balance.

    Pure: the caller has read the rows (holding the wallet's lock) and writes the result."""
    if (
        connection is None
        or connection.merchant_id != caller.merchant_id
        or connection.livemode != caller.livemode
    ):
        raise Unauthorized(
            "connection_secret is not an active connection of this merchant.",
            param="connection_secret",
        )
    if (
        product is None
        or product.merchant_id != caller.merchant_id
        or product.livemode != caller.livemode
    ):
        raise NotFound("No product with this product_secret.", param="product_secret")
    usage = _usage_of(params)
    pricing = _model_pricing(prices, settings, params)
    input_cost, output_cost = pricing.cost(usage) if pricing else (ZERO, ZERO)
    try:
        priced = price_request(
            product.pricing,
            usage,
            prior_units=prior_units,
            service_charge_rate=settings.service_charge_rate,
            input_cost=input_cost,
            output_cost=output_cost,
        )
    except OutOfRange as error:
        raise InvalidRequest(f"{error.field}: {error.message}.", param=error.field) from None
    if available - priced.total_wallet_cost < -MAX_AMOUNT:  # even an overdraft stops there
        raise InsufficientBalance(
            f"This request ({format_money(priced.total_wallet_cost)}) would take the wallet "
            f"below -{format_money(MAX_AMOUNT)}; nothing was charged."
        )
    if product.overdraft == "block" and available < priced.total_wallet_cost:
        raise InsufficientBalance(
            f"The wallet's available balance ({format_money(available)}) cannot pay this "
            f"request ({format_money(priced.total_wallet_cost)}); nothing was charged."
        )
    request = _new_request(
        caller, params, connection.id, connection.wallet_id, product, priced, fingerprint, now
    )
    if pricing is not None and pricing.source == "estimated":
        request.request_metadata = {**request.request_metadata, PRICE_ESTIMATED_KEY: "true"}
    return request, priced


def replay(existing: Request, fingerprint: str) -> Created:
    if existing.fingerprint != fingerprint:
        raise Conflict(
            f"request_id {existing.request_id!r} was already reported with different values; "
            "a new report needs a new request_id.",
            param="request_id",
        )
    return Created(existing, created=False)


def _model_pricing(
    prices: PriceBook, settings: Settings, params: RequestCreate
) -> ModelPricing | None:
    """The prices of our `provider`/`model` extension, as for a forwarded call, with the same
    unknown-model rule (`LAVA_UNKNOWN_MODEL`; a 400 naming `model` under `refuse`). None for a
    report without `model`: it bills the product's fee and no provider cost (`docs/pricing.md`)."""
    if params.model is None:
        return None
    # Without a provider: the one the price library knows the model at, else "*" entries only.
    provider = params.provider or provider_for_model(params.model) or "*"
    return prices.billed_price(provider, params.model, settings.unknown_model)


def _usage_of(params: RequestCreate) -> Usage:
    return Usage(
        input_tokens=params.input_tokens,
        output_tokens=params.output_tokens,
        input_characters=params.input_characters,
        output_characters=params.output_characters,
        input_seconds=params.input_seconds,
        output_seconds=params.output_seconds,
        model=params.model,
    )


def priced_columns(priced: PricedRequest) -> dict[str, Any]:
    """The money columns of a request row, from its price (shared with the forward proxy)."""
    return {
        "input_cost": priced.input_cost,
        "output_cost": priced.output_cost,
        "total_cost": priced.total_cost,
        "model_payer": priced.model_payer.value,
        "fee_amount": priced.fee_amount,
        "rate_type": priced.rate_type.value,
        "token_basis": priced.token_basis.value,
        "fee_breakdown": [entry.to_json() for entry in priced.breakdown],
        "service_charge_amount": priced.service_charge_amount,
        "service_charge_payer": priced.service_charge_payer.value,
        "total_request_cost": priced.total_request_cost,
        "total_wallet_cost": priced.total_wallet_cost,
        "total_merchant_cost": priced.total_merchant_cost,
    }


def _new_request(
    caller: Caller,
    params: RequestCreate,
    connection_id: str,
    wallet_id: str,
    product: ProductRef,
    priced: PricedRequest,
    fingerprint: str,
    now: datetime,
) -> Request:
    return Request(
        request_id=params.request_id,
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        connection_id=connection_id,
        product_id=product.id,
        wallet_id=wallet_id,
        status="completed",
        provider=params.provider or "merchant",
        provider_key_type="unmanaged",
        model=params.model,
        endpoint=MERCHANT_ENDPOINT,
        response_id=None,
        input_tokens=params.input_tokens,
        output_tokens=params.output_tokens,
        input_characters=params.input_characters,
        output_characters=params.output_characters,
        input_seconds=params.input_seconds,
        output_seconds=params.output_seconds,
        **priced_columns(priced),
        hold_amount=Decimal(0),
        request_metadata=params.metadata or {},
        fingerprint=fingerprint,
        timestamp=now,
        created_at=now,
    )


_COLUMNS = tuple(
    attr
    for attr in Request.__mapper__.column_attrs.keys()  # noqa: SIM118
    if attr != "seq"
)


def columns_of(request: Request) -> dict[str, Any]:
    return {name: getattr(request, name) for name in _COLUMNS}


def render(request: Request) -> RestRequest:
    """The seed's `RestRequest`."""
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
            "total_cost": format_money(request.total_cost),
            "payer": cast(Payer, request.model_payer),
        },
        "fee": {
            "amount": format_money(request.fee_amount),
            "rate_type": cast(RateType, request.rate_type),
            "token_basis": cast(TokenBasis, request.token_basis),
            "breakdown": cast(list[FeeBreakdown], request.fee_breakdown),
        },
        "service_charge": {
            "amount": format_money(request.service_charge_amount),
            "payer": cast(Payer, request.service_charge_payer),
        },
        "total_request_cost": format_money(request.total_request_cost),
        "total_wallet_cost": format_money(request.total_wallet_cost),
        "total_merchant_cost": format_money(request.total_merchant_cost),
        "metadata": request.request_metadata,
        "created_at": iso(request.created_at),
    }
    if request.connection_id is not None:
        body["connection_id"] = request.connection_id
    if request.product_id is not None:
        body["product_id"] = request.product_id
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
) -> Sequence[Request]:
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
        )
