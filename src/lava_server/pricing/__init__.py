"""The pricing engine: `docs/pricing.md` as pure functions over frozen dataclasses and `Decimal`.

No I/O, no HTTP, no SQL. The API builds a `PricingConfig` from a product (`parse_pricing_config`
gives 400-ready `PricingConfigError`s naming the field), a `Usage` from the request's counts, and
calls `price_request` with the connection's tier position; the proxy reserves
`price_upper_bound(...).total_wallet_cost` before forwarding. Amounts come back with exactly 10
places; `format_money` writes them for the wire.
"""

from lava_server.pricing.config import (
    Payer,
    PricingConfig,
    RateType,
    Tier,
    TierType,
    TokenBasis,
    parse_pricing_config,
)
from lava_server.pricing.engine import (
    MAX_COUNT,
    PRICED_COUNTS,
    BreakdownEntry,
    CostBound,
    OutOfRange,
    PricedRequest,
    Usage,
    cost_at_price,
    price_request,
    price_upper_bound,
    units_for,
)
from lava_server.pricing.errors import PricingConfigError, PricingError
from lava_server.pricing.money import (
    MAX_AMOUNT,
    MONEY_PLACES,
    ZERO,
    format_money,
    parse_decimal,
    parse_money,
    quantize_money,
)

__all__ = [
    "MAX_AMOUNT",
    "MAX_COUNT",
    "MONEY_PLACES",
    "PRICED_COUNTS",
    "ZERO",
    "BreakdownEntry",
    "CostBound",
    "OutOfRange",
    "Payer",
    "PricedRequest",
    "PricingConfig",
    "PricingConfigError",
    "PricingError",
    "RateType",
    "Tier",
    "TierType",
    "TokenBasis",
    "Usage",
    "cost_at_price",
    "format_money",
    "parse_decimal",
    "parse_money",
    "parse_pricing_config",
    "price_request",
    "price_upper_bound",
    "quantize_money",
    "units_for",
]
