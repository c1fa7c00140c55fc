"""Bodies and answers of the money operations."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from typing_extensions import TypedDict

from lava_server.api.schemas import closed
from lava_server.money import DECIMAL_PATTERN, DecimalString, MoneyString
from lava_server.pricing import PricingError, parse_decimal
from lava_server.timeutil import Timestamp

Reason = Annotated[str, Field(min_length=1, max_length=500)]


def _signed(value: object) -> Decimal:
    negative = isinstance(value, str) and value.startswith("-")
    try:
        parsed = parse_decimal(value[1:] if negative else value, field="value")  # type: ignore[index]
    except PricingError as error:
        raise ValueError(error.message) from None
    return -parsed if negative else parsed


SignedDecimalString = Annotated[
    Decimal,
    BeforeValidator(_signed),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^-?" + DECIMAL_PATTERN.removeprefix("^"),
            "description": "A signed decimal string, never a number.",
            "examples": ["-2.50"],
        }
    ),
]


class CreditCreate(BaseModel):
    """`POST /v1/customers/{id}/credits` (and `/v1/connections/{id}/credits`)."""

    model_config = ConfigDict(extra="forbid")

    amount: DecimalString
    reason: Reason
    expires_at: AwareDatetime | None = None


class AdjustmentCreate(BaseModel):
    """`POST /v1/customers/{id}/adjustments` (and `/v1/connections/{id}/adjustments`)."""

    model_config = ConfigDict(extra="forbid")

    amount: SignedDecimalString
    reason: Reason


class RefundCreate(BaseModel):
    """`POST /v1/refunds`: `amount` left out refunds what is left of the payment."""

    model_config = ConfigDict(extra="forbid")

    payment_id: Annotated[str, Field(min_length=1, max_length=64)]
    amount: DecimalString | None = None


@closed
class RestBalanceOperation(TypedDict):
    """A grant (`object: "credit"`) or an adjustment (`object: "adjustment"`)."""

    id: str
    object: Literal["credit", "adjustment"]
    customer_id: str
    connection_id: str
    amount: MoneyString
    reason: str
    expires_at: Timestamp | None
    wallet_balance: MoneyString
    livemode: bool
    created_at: Timestamp


@closed
class RestRefund(TypedDict):
    id: str
    object: Literal["refund"]
    payment_id: str
    amount: MoneyString
    status: Literal["pending", "succeeded", "failed"]
    provider: str
    provider_refund_id: str | None
    failure_code: str | None
    failure_message: str | None
    livemode: bool
    created_at: Timestamp
    completed_at: Timestamp | None


@closed
class RestPayment(TypedDict):
    id: str
    object: Literal["payment"]
    customer_id: str | None
    connection_id: str | None
    purpose: str
    top_up: bool
    amount: MoneyString
    amount_refunded: MoneyString
    status: str
    provider: str
    provider_payment_id: str | None
    checkout_session_id: str | None
    failure_code: str | None
    failure_message: str | None
    refunds: list[RestRefund]
    livemode: bool
    created_at: Timestamp
    completed_at: Timestamp | None
