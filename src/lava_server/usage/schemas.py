from __future__ import annotations

from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict

from lava_server.api.schemas import closed
from lava_server.money import MoneyString
from lava_server.timeutil import Timestamp


@closed
class UsageSums(TypedDict):
    """The sums of the completed requests of a day (or of the whole range), with both eras'
    names (`docs/current-api.md#requests-and-usage`): `total_cost` = `total_usage_cost`,
    `total_charge` = `total_fee_amount`."""

    total_requests: Annotated[int, Field(ge=0)]
    total_usage_tokens: Annotated[int, Field(ge=0)]
    total_usage_cost: MoneyString
    total_fee_amount: MoneyString
    total_service_charge_amount: MoneyString
    total_request_cost: MoneyString
    total_wallet_cost: MoneyString
    total_merchant_cost: MoneyString
    total_gross_volume: MoneyString
    total_net_volume: MoneyString
    total_cost: MoneyString
    total_charge: MoneyString


@closed
class UsageDay(UsageSums):
    """One calendar day in the time zone of `start`'s UTC offset; `start` and `end` (exclusive)
    are its bounds in UTC."""

    date: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    start: Timestamp
    end: Timestamp


@closed
class RestUsage(TypedDict):
    """Daily usage, every day of the range included (zero days too)."""

    items: list[UsageDay]
    totals: UsageSums
