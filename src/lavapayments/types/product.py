"""Pricing products (our extension of the API, ``/v1/products``): what ``requests.create`` and
forward tokens name by their ``product_secret``. Not in the Node SDK's types, so money is
``Decimal`` and times are timezone-aware ``datetime``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeAlias

from .._models import BaseModel, Money
from .request import Payer

__all__ = [
    "Overdraft",
    "Payer",
    "RateType",
    "RestProduct",
    "RestProductTier",
    "TierType",
    "TokenBasis",
]

RateType: TypeAlias = Literal["fixed", "percentage"]
TokenBasis: TypeAlias = Literal["input+output", "output"]
TierType: TypeAlias = Literal["tokens_1m", "characters_1m", "minutes", "requests"]
Overdraft: TypeAlias = Literal["block", "allow"]


class RestProductTier(BaseModel):
    """A tier of a product's pricing: from ``start`` units on, ``rate`` per unit of ``type``
    (a percentage of the provider cost when the product's ``rate_type`` is ``percentage``)."""

    start: int
    rate: Money
    type: TierType


class RestProduct(BaseModel):
    """A pricing product (the same object, and ``prd_`` id, as a meter)."""

    product_id: str
    product_secret: str
    name: str
    meter_slug: str
    rate_type: RateType
    token_basis: TokenBasis
    tiers: list[RestProductTier]
    base_cost_payer: Payer
    service_charge_payer: Payer
    overdraft: Overdraft
    created_at: datetime
    updated_at: datetime
