"""A product's pricing configuration (`docs/pricing.md`, "The product") and its validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import TypeVar

from lava_server.pricing.errors import PricingConfigError, PricingError
from lava_server.pricing.money import parse_decimal

MAX_TIER_START = 10**15
"""The last tier a product may define starts at most here: a connection's tier position is kept
exactly up to `TIER_POSITION_CAP` (far above), so every tier stays reachable."""
TIER_POSITION_CAP = 2**62
"""Where a tier position stops counting (a 64-bit integer on both databases): past the last
tier start, the position no longer changes any price."""


class RateType(str, Enum):
    """`fixed`: a price per unit; `percentage`: a share of the provider cost."""

    FIXED = "fixed"
    PERCENTAGE = "percentage"


class TokenBasis(str, Enum):
    """Which units count: input and output, or output only."""

    INPUT_OUTPUT = "input+output"
    OUTPUT = "output"


class TierType(str, Enum):
    """What a tier meters, and so what one unit of a request is."""

    TOKENS_1M = "tokens_1m"  # $ per 1M tokens; a unit is a token
    CHARACTERS_1M = "characters_1m"  # $ per 1M characters; a unit is a character
    MINUTES = "minutes"  # $ per minute; a unit is a second
    REQUESTS = "requests"  # $ per request; a unit is a request


class Payer(str, Enum):
    """Who pays a part of the request's cost."""

    WALLET = "wallet"
    MERCHANT = "merchant"


@dataclass(frozen=True)
class Tier:
    """From `start` units used in the period on, each unit costs `rate` (fixed) or the request
    pays `rate` percent of its provider cost for its share of units (percentage)."""

    start: int
    rate: Decimal
    type: TierType

    def to_json(self) -> dict[str, object]:
        """The wire and storage form `{start, rate, type}`, the rate as a plain decimal string."""
        return {"start": self.start, "rate": f"{self.rate:f}", "type": self.type.value}


@dataclass(frozen=True)
class PricingConfig:
    """The pricing of a product. Constructing one validates it (`PricingConfigError`), so every
    `PricingConfig` in the program obeys the rules; a list given as `tiers` is stored as a tuple."""

    tiers: tuple[Tier, ...]
    rate_type: RateType = RateType.FIXED
    token_basis: TokenBasis = TokenBasis.INPUT_OUTPUT
    base_cost_payer: Payer = Payer.WALLET
    service_charge_payer: Payer = Payer.WALLET

    def __post_init__(self) -> None:
        if isinstance(self.tiers, list):
            object.__setattr__(self, "tiers", tuple(self.tiers))
        _check_enum("rate_type", self.rate_type, RateType)
        _check_enum("token_basis", self.token_basis, TokenBasis)
        _check_enum("base_cost_payer", self.base_cost_payer, Payer)
        _check_enum("service_charge_payer", self.service_charge_payer, Payer)
        _check_tiers(self.tiers)

    @property
    def tier_type(self) -> TierType:
        """The type all tiers share."""
        return self.tiers[0].type

    def to_json(self) -> dict[str, object]:
        """The JSON form read back by `parse_pricing_config`."""
        return {
            "rate_type": self.rate_type.value,
            "token_basis": self.token_basis.value,
            "tiers": [tier.to_json() for tier in self.tiers],
            "base_cost_payer": self.base_cost_payer.value,
            "service_charge_payer": self.service_charge_payer.value,
        }


_E = TypeVar("_E", bound=Enum)


def _allowed(enum_type: type[Enum]) -> str:
    return ", ".join(str(member.value) for member in enum_type)


def _check_enum(field: str, value: object, enum_type: type[Enum]) -> None:
    if not isinstance(value, enum_type):
        raise PricingConfigError(field, f"must be one of: {_allowed(enum_type)}")


def _check_start(field: str, start: object) -> None:
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= MAX_TIER_START:
        raise PricingConfigError(field, f"must be an integer from 0 to {MAX_TIER_START}")


def _check_tiers(tiers: object) -> None:
    if not isinstance(tiers, tuple) or not tiers:
        raise PricingConfigError("tiers", "must be a list of at least one tier")
    previous_start = -1
    for index, tier in enumerate(tiers):
        at = f"tiers[{index}]"
        if not isinstance(tier, Tier):
            raise PricingConfigError(at, "must be a tier {start, rate, type}")
        _check_enum(f"{at}.type", tier.type, TierType)
        start = tier.start
        _check_start(f"{at}.start", start)
        if index == 0 and start != 0:
            raise PricingConfigError(f"{at}.start", "the first tier must start at 0")
        if start <= previous_start:
            raise PricingConfigError(
                f"{at}.start", f"must be greater than the previous tier's start ({previous_start})"
            )
        previous_start = start
        rate = tier.rate
        if not isinstance(rate, Decimal) or not rate.is_finite() or rate < 0:
            raise PricingConfigError(f"{at}.rate", "must be a decimal >= 0")
        if tier.type is not tiers[0].type:
            raise PricingConfigError(
                f"{at}.type",
                f"all tiers must share one type (tiers[0].type is {tiers[0].type.value})",
            )


_TIER_KEYS = ("start", "rate", "type")


def parse_pricing_config(data: Mapping[str, object]) -> PricingConfig:
    """Build a `PricingConfig` from its JSON form (a product body, a stored product).

    Reads `rate_type`, `token_basis`, `tiers`, `base_cost_payer` and `service_charge_payer`, with
    the defaults of `docs/pricing.md` for missing keys but `tiers`; other keys (a product's `name`,
    `overdraft`) are left to the caller. A tier is exactly `{start, rate, type}`: `start` a JSON
    integer, `rate` a decimal string. Raises `PricingConfigError` naming the first bad field.
    """
    if "tiers" not in data:
        raise PricingConfigError("tiers", "is required")
    raw_tiers = data["tiers"]
    if not isinstance(raw_tiers, list | tuple):
        raise PricingConfigError("tiers", "must be a list of at least one tier")
    return PricingConfig(
        tiers=tuple(_parse_tier(raw, index) for index, raw in enumerate(raw_tiers)),
        rate_type=_parse_enum(data, "rate_type", RateType, RateType.FIXED),
        token_basis=_parse_enum(data, "token_basis", TokenBasis, TokenBasis.INPUT_OUTPUT),
        base_cost_payer=_parse_enum(data, "base_cost_payer", Payer, Payer.WALLET),
        service_charge_payer=_parse_enum(data, "service_charge_payer", Payer, Payer.WALLET),
    )


def _enum_value(raw: object, field: str, enum_type: type[_E]) -> _E:
    for member in enum_type:
        if raw == member.value:
            return member
    raise PricingConfigError(field, f"must be one of: {_allowed(enum_type)}")


def _parse_enum(data: Mapping[str, object], field: str, enum_type: type[_E], default: _E) -> _E:
    return _enum_value(data[field], field, enum_type) if field in data else default


def _parse_tier(raw: object, index: int) -> Tier:
    at = f"tiers[{index}]"
    if not isinstance(raw, Mapping):
        raise PricingConfigError(at, "must be an object {start, rate, type}")
    for key in raw:
        if key not in _TIER_KEYS:
            raise PricingConfigError(f"{at}.{key}", "is not a tier field (start, rate, type)")
    for key in _TIER_KEYS:
        if key not in raw:
            raise PricingConfigError(f"{at}.{key}", "is required")
    start = raw["start"]
    _check_start(f"{at}.start", start)
    try:
        rate = parse_decimal(raw["rate"], field=f"{at}.rate")
    except PricingError as error:
        raise PricingConfigError(error.field, error.message) from None
    return Tier(start, rate, _enum_value(raw["type"], f"{at}.type", TierType))
