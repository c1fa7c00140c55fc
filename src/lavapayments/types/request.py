from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeAlias

from .._models import BaseModel, Money

__all__ = [
    "Payer",
    "RestRequest",
    "RestRequestCharge",
    "RestRequestFee",
    "RestRequestFeeBreakdown",
    "RestRequestFeeTier",
    "RestRequestModelUsage",
    "RestRequestServiceCharge",
]

Payer: TypeAlias = Literal["wallet", "merchant"]


class RestRequestModelUsage(BaseModel):
    """What the provider call consumed and what it cost."""

    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_characters: int
    output_characters: int
    total_characters: int
    input_seconds: int
    output_seconds: int
    total_seconds: int
    input_cost: Money
    output_cost: Money
    total_cost: Money
    payer: Payer


class RestRequestFeeTier(BaseModel):
    """One pricing tier of the product's fee."""

    start: int
    rate: Money
    type: Literal["tokens_1m", "characters_1m", "minutes", "requests"]


class RestRequestFeeBreakdown(BaseModel):
    """The part of the fee charged in one tier."""

    tier: RestRequestFeeTier
    tokens: int
    characters: int
    seconds: int
    cost: Money


class RestRequestFee(BaseModel):
    """The merchant's fee for the request."""

    amount: Money
    rate_type: Literal["fixed", "percentage"]
    token_basis: Literal["input+output", "output"]
    breakdown: list[RestRequestFeeBreakdown]


class RestRequestServiceCharge(BaseModel):
    """Lava's service charge for the request."""

    amount: Money
    payer: Payer


class RestRequestCharge(BaseModel):
    """The current API's name of the fee: what the customer is charged per the meter."""

    amount: Money
    rate_type: Literal["fixed", "percentage"]
    breakdown: list[RestRequestFeeBreakdown]


class RestRequest(BaseModel):
    """One metered request (forwarded to a provider, or reported with ``requests.create``)."""

    request_id: str
    status: Literal["pending", "completed", "error"]
    connection_id: str | None = None
    product_id: str | None = None
    provider: str
    provider_key_type: Literal["managed", "unmanaged", "stored"]
    model: str | None = None
    endpoint: str
    response_id: str | None = None
    model_usage: RestRequestModelUsage
    fee: RestRequestFee
    service_charge: RestRequestServiceCharge
    total_request_cost: Money
    total_wallet_cost: Money
    total_merchant_cost: Money
    metadata: dict[str, str]
    timestamp: datetime | None = None
    created_at: datetime
    # The current API's names (Node SDK 11.x), for the same ids and amounts:
    customer_id: str | None = None
    meter_id: str | None = None
    cost: Money | None = None
    charge: RestRequestCharge | None = None
