from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lava_server.money import DecimalString

RolloverType = Literal["full", "none"]
Name = Annotated[str, Field(min_length=1, max_length=255)]
MAX_PERIOD_AMOUNT = Decimal(10000)


def _check_period_amount(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than 0")
    if value > MAX_PERIOD_AMOUNT:
        raise ValueError("must be at most 10000")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("must be a whole number of cents (at most 2 decimal places)")
    return value


class SubscriptionConfigCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    period_amount: DecimalString
    rollover_type: RolloverType

    _amount = field_validator("period_amount")(_check_period_amount)


class SubscriptionConfigUpdate(BaseModel):
    """Partial update: only the fields given change (renewals charge the new amount)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    period_amount: DecimalString | None = None
    rollover_type: RolloverType | None = None

    @field_validator("period_amount")
    @classmethod
    def _amount(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else _check_period_amount(value)
