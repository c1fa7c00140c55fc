from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import NotRequired, TypedDict

from lava_server.api.schemas import closed
from lava_server.money import DecimalString, MoneyString
from lava_server.timeutil import Timestamp

RolloverType = Literal["full", "none"]
SubscriptionStatus = Literal["active", "cancelled"]
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


@closed
class RestSubscriptionConfig(TypedDict):
    """A plan: `period_amount` is charged each period and granted as period credit."""

    subscription_config_id: str
    merchant_id: str
    name: str
    period_amount: MoneyString
    rollover_type: RolloverType
    created_at: Timestamp


@closed
class SubscriptionWallet(TypedDict):
    """The subscriber's wallet; `active_balance` is what it can spend now."""

    wallet_id: str
    phone: str
    active_balance: MoneyString
    created_at: Timestamp
    email: NotRequired[str]
    first_name: NotRequired[str]
    last_name: NotRequired[str]


@closed
class RestActiveSubscription(TypedDict):
    """A wallet's subscription; `cancelled_at` once it is `cancelled`."""

    active_subscription_id: str
    wallet_id: str
    subscription_config_id: str
    started_at: Timestamp
    billing_anchor: Annotated[int, Field(ge=1, le=31, description="Its day of the month.")]
    status: SubscriptionStatus
    created_at: Timestamp
    subscription_config: RestSubscriptionConfig
    wallet: SubscriptionWallet
    connection_id: str
    current_period_start: Timestamp
    current_period_end: Timestamp
    cancelled_at: NotRequired[Timestamp]
    # Dunning (our extension): a renewal was declined; retried until `next_payment_retry_at`'s
    # schedule is over, then the subscription is cancelled.
    past_due_since: NotRequired[Timestamp]
    payment_retries: NotRequired[int]
    next_payment_retry_at: NotRequired[Timestamp | None]
