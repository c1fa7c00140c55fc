"""Money on the wire, as API input: decimal strings (never floats), parsed by `pricing.money`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator

from lava_server.pricing import PricingError, parse_decimal


def _parse(value: object) -> Decimal:
    try:
        return parse_decimal(value, field="value")
    except PricingError as error:
        raise ValueError(error.message) from None


DecimalString = Annotated[Decimal, BeforeValidator(_parse)]
