"""Pricing one request, step by step as `docs/pricing.md` says.

Amounts are computed as whole numbers of 1e-10 dollars from exact integer ratios of the inputs, so
every rounding is the single ROUND_HALF_EVEN of `docs/pricing.md` and nothing depends on a
`decimal` context.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, fields, replace
from decimal import Decimal

from lava_server.pricing.config import Payer, PricingConfig, RateType, Tier, TierType, TokenBasis
from lava_server.pricing.errors import PricingError
from lava_server.pricing.money import (
    MAX_AMOUNT,
    MAX_AMOUNT_UNITS,
    MONEY_PLACES,
    ZERO,
    ceil_div,
    format_money,
    from_money_units,
    half_even_div,
    to_money_units,
)

# Units per priced quantity of a fixed rate: $ per 1M tokens/characters, per minute of seconds,
# per request.
_FIXED_RATE_PER = {
    TierType.TOKENS_1M: 1_000_000,
    TierType.CHARACTERS_1M: 1_000_000,
    TierType.MINUTES: 60,
    TierType.REQUESTS: 1,
}
_MONEY_SCALE = 10**MONEY_PLACES

MAX_COUNT = 10**15
"""The largest count (tokens, characters, seconds) of one kind that one request may carry."""


class OutOfRange(PricingError):
    """A request whose counts or cost leave the range of money (`MAX_AMOUNT`) or of counts
    (`MAX_COUNT`). `field` is the count that weighs most (`input_tokens`...)."""


def _check_range(usage: Usage, total_request_units: int, what: str) -> None:
    counts = {name: getattr(usage, name) for name in PRICED_COUNTS}
    heaviest = max(counts, key=lambda name: counts[name])
    if counts[heaviest] > MAX_COUNT:
        raise OutOfRange(heaviest, f"must be at most {MAX_COUNT}")
    if total_request_units > MAX_AMOUNT_UNITS:
        raise OutOfRange(
            heaviest,
            f"{what} cost {format_money(from_money_units(total_request_units))}, more than the "
            f"most one request may cost ({format_money(MAX_AMOUNT)})",
        )


def _check_count(field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PricingError(field, "must be an integer >= 0")


def _check_decimal(field: str, value: object) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise PricingError(field, "must be a finite Decimal >= 0")
    return value


PRICED_COUNTS = (
    "input_tokens",
    "output_tokens",
    "input_characters",
    "output_characters",
    "input_seconds",
    "output_seconds",
)
"""The counts that prices and tiers are computed from (the others are parts of these)."""


@dataclass(frozen=True)
class Usage:
    """The usage of one request, the one type for every door: reported by a merchant
    (`POST /v1/requests`) or read from a provider's answer by the forward proxy (whose extractors
    fill the parts of `input_tokens` and `output_tokens`, `model`, `response_id`, and `estimated`
    when a count was estimated; their conventions: `lava_server.proxy.usage.types`). Each count an
    integer >= 0 (else `PricingError`)."""

    input_tokens: int = 0
    output_tokens: int = 0
    input_characters: int = 0
    output_characters: int = 0
    input_seconds: int = 0
    output_seconds: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    input_audio_tokens: int = 0
    output_audio_tokens: int = 0
    model: str | None = None
    response_id: str | None = None
    estimated: bool = False

    def __post_init__(self) -> None:
        for name in _ALL_COUNTS:
            _check_count(name, getattr(self, name))

    @property
    def uncached_input_tokens(self) -> int:
        """Prompt tokens that were neither read from nor written to a cache."""
        return max(0, self.input_tokens - self.cache_read_tokens - self.cache_write_tokens)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def with_model(self, model: str | None) -> Usage:
        """This usage with `model` filled in when it has none."""
        if self.model or not model:
            return self
        return replace(self, model=model)


_ALL_COUNTS = tuple(
    f.name for f in fields(Usage) if f.name not in ("model", "response_id", "estimated")
)


def units_for(config: PricingConfig, usage: Usage) -> int:
    """Step 1: the request's units, by the tiers' type and the token basis."""
    tier_type = config.tier_type
    if tier_type is TierType.REQUESTS:
        return 1
    if tier_type is TierType.TOKENS_1M:
        input_units, output_units = usage.input_tokens, usage.output_tokens
    elif tier_type is TierType.CHARACTERS_1M:
        input_units, output_units = usage.input_characters, usage.output_characters
    else:
        input_units, output_units = usage.input_seconds, usage.output_seconds
    if config.token_basis is TokenBasis.OUTPUT:
        return output_units
    return input_units + output_units


def cost_at_price(units: int, price: Decimal, *, per: int = 1) -> Decimal:
    """Provider cost (step 4) of `units` at `price` dollars per `per` units (`per=1_000_000` for a
    price per million tokens), rounded to 10 places ROUND_HALF_EVEN."""
    _check_count("units", units)
    _check_decimal("price", price)
    if isinstance(per, bool) or not isinstance(per, int) or per < 1:
        raise PricingError("per", "must be an integer >= 1")
    numerator, denominator = price.as_integer_ratio()
    return from_money_units(half_even_div(units * numerator * _MONEY_SCALE, denominator * per))


@dataclass(frozen=True)
class BreakdownEntry:
    """The part of a request that fell in one tier (`fee.breakdown[]`).

    `units` is the part's size in the tier type's unit; `tokens`, `characters` and `seconds` repeat
    it under the matching kind (all 0 for `requests` tiers). `cost` has exactly 10 places.
    """

    tier: Tier
    units: int
    tokens: int
    characters: int
    seconds: int
    cost: Decimal

    def to_json(self) -> dict[str, object]:
        """The seed's `RestRequest.fee.breakdown[]` item, money as strings."""
        return {
            "tier": self.tier.to_json(),
            "tokens": self.tokens,
            "characters": self.characters,
            "seconds": self.seconds,
            "cost": format_money(self.cost),
        }


@dataclass(frozen=True)
class PricedRequest:
    """A priced request: the money fields of `RestRequest`, each with exactly 10 places."""

    rate_type: RateType
    token_basis: TokenBasis
    units: int
    breakdown: tuple[BreakdownEntry, ...]
    fee_amount: Decimal
    input_cost: Decimal
    output_cost: Decimal
    total_cost: Decimal
    model_payer: Payer
    service_charge_amount: Decimal
    service_charge_payer: Payer
    total_request_cost: Decimal
    total_wallet_cost: Decimal
    total_merchant_cost: Decimal


@dataclass(frozen=True)
class CostBound:
    """Upper bounds of a request's amounts (`price_upper_bound`), each with exactly 10 places."""

    fee_amount: Decimal
    total_cost: Decimal
    service_charge_amount: Decimal
    total_request_cost: Decimal
    total_wallet_cost: Decimal
    total_merchant_cost: Decimal


def _tier_index_at(tiers: tuple[Tier, ...], position: int) -> int:
    """Index of the tier that unit number `position` (0-based within the period) falls in."""
    return bisect_right([tier.start for tier in tiers], position) - 1


def _split(tiers: tuple[Tier, ...], prior_units: int, units: int) -> list[tuple[Tier, int]]:
    """Step 2: cut [prior_units, prior_units + units) at tier starts, one part per tier touched.

    With 0 units the request touches no tier; it is given one empty part at the tier the
    connection is in, so the breakdown always shows the rate in force.
    """
    first = _tier_index_at(tiers, prior_units)
    end = prior_units + units
    parts: list[tuple[Tier, int]] = []
    for index in range(first, len(tiers)):
        low = max(tiers[index].start, prior_units)
        if low >= end:
            break
        high = end if index + 1 == len(tiers) else min(tiers[index + 1].start, end)
        parts.append((tiers[index], high - low))
    return parts or [(tiers[first], 0)]


def _part_cost(
    config: PricingConfig, tier: Tier, part: int, units: int, base_cost_units: int
) -> int:
    """Step 3 for one part, in 1e-10 dollars rounded half-even."""
    rate_numerator, rate_denominator = tier.rate.as_integer_ratio()
    if config.rate_type is RateType.FIXED:
        return half_even_div(
            rate_numerator * part * _MONEY_SCALE,
            rate_denominator * _FIXED_RATE_PER[tier.type],
        )
    if units == 0:
        return 0
    # base_cost × (part / units) × rate / 100; base_cost is already in 1e-10 dollars.
    return half_even_div(base_cost_units * part * rate_numerator, units * 100 * rate_denominator)


def _breakdown_entry(tier: Tier, part: int, cost_units: int) -> BreakdownEntry:
    return BreakdownEntry(
        tier=tier,
        units=part,
        tokens=part if tier.type is TierType.TOKENS_1M else 0,
        characters=part if tier.type is TierType.CHARACTERS_1M else 0,
        seconds=part if tier.type is TierType.MINUTES else 0,
        cost=from_money_units(cost_units),
    )


def _service_charge(fee_units: int, service_charge_rate: Decimal) -> int:
    """Step 5, in 1e-10 dollars."""
    numerator, denominator = service_charge_rate.as_integer_ratio()
    return half_even_div(fee_units * numerator, denominator)


def _totals(config: PricingConfig, fee: int, total_cost: int, service: int) -> tuple[int, int, int]:
    """Step 6: (total_request_cost, total_wallet_cost, total_merchant_cost) in 1e-10 dollars."""
    wallet = fee
    merchant = 0
    if config.base_cost_payer is Payer.WALLET:
        wallet += total_cost
    else:
        merchant += total_cost
    if config.service_charge_payer is Payer.WALLET:
        wallet += service
    else:
        merchant += service
    return total_cost + fee + service, wallet, merchant


def price_request(
    config: PricingConfig,
    usage: Usage,
    *,
    prior_units: int,
    service_charge_rate: Decimal,
    input_cost: Decimal = ZERO,
    output_cost: Decimal = ZERO,
) -> PricedRequest:
    """Price one request (`docs/pricing.md` steps 1 to 6).

    `prior_units`: the units this connection already used on this product in the current usage
    period (U0; for `requests` tiers, the number of earlier requests); add `units` of the result to
    it for the next request. `input_cost`/`output_cost`: the provider cost as computed (unrounded
    is fine; each is rounded to 10 places here), both 0 when no model is known.

    A request of 0 units (say, no output tokens under the `output` basis) touches no tier: its
    breakdown is one entry of 0 units and cost 0 at the tier the connection is in, and its fee is
    0 (a percentage product then charges the provider cost only).

    Raises `PricingError` for a negative count, or a negative, non-finite or non-Decimal amount,
    and `OutOfRange` past `MAX_COUNT` or `MAX_AMOUNT`.
    """
    _check_count("prior_units", prior_units)
    _check_decimal("service_charge_rate", service_charge_rate)
    input_units = to_money_units(_check_decimal("input_cost", input_cost))
    output_units = to_money_units(_check_decimal("output_cost", output_cost))
    total_cost = input_units + output_units

    units = units_for(config, usage)
    costs = [
        (tier, part, _part_cost(config, tier, part, units, total_cost))
        for tier, part in _split(config.tiers, prior_units, units)
    ]
    fee = sum(cost for _, _, cost in costs)
    service = _service_charge(fee, service_charge_rate)
    total_request, total_wallet, total_merchant = _totals(config, fee, total_cost, service)
    _check_range(usage, total_request, "this request would")
    return PricedRequest(
        rate_type=config.rate_type,
        token_basis=config.token_basis,
        units=units,
        breakdown=tuple(_breakdown_entry(tier, part, cost) for tier, part, cost in costs),
        fee_amount=from_money_units(fee),
        input_cost=from_money_units(input_units),
        output_cost=from_money_units(output_units),
        total_cost=from_money_units(total_cost),
        model_payer=config.base_cost_payer,
        service_charge_amount=from_money_units(service),
        service_charge_payer=config.service_charge_payer,
        total_request_cost=from_money_units(total_request),
        total_wallet_cost=from_money_units(total_wallet),
        total_merchant_cost=from_money_units(total_merchant),
    )


def price_upper_bound(
    config: PricingConfig,
    usage: Usage,
    *,
    prior_units: int,
    service_charge_rate: Decimal,
    input_cost: Decimal = ZERO,
    output_cost: Decimal = ZERO,
) -> CostBound:
    """The most a request can cost, for a hold taken before forwarding (`docs/pricing.md`).

    Give the worst-case usage (input estimated from the body, output at the maximum allowed) and
    the provider costs of that usage. Each returned amount is >= the same amount of
    `price_request` for any usage not above `usage` in any count, provider costs not above the
    given ones, and any `prior_units` not below the given one in the same usage period: in-flight
    requests of the same connection can only move its tier position up, possibly into a dearer
    tier. So the fee is priced at the highest rate among the tiers from the current one on,
    rounded up, plus 1e-10 per further tier the request may touch (each part of a real request is
    rounded half-even on its own, so k parts may exceed the rounded whole by k - 1 units of 1e-10).
    Raises `OutOfRange` when that bound passes `MAX_AMOUNT` (or a count `MAX_COUNT`).
    """
    _check_count("prior_units", prior_units)
    _check_decimal("service_charge_rate", service_charge_rate)
    input_units = to_money_units(_check_decimal("input_cost", input_cost))
    output_units = to_money_units(_check_decimal("output_cost", output_cost))
    total_cost = input_units + output_units

    units = units_for(config, usage)
    reachable = config.tiers[_tier_index_at(config.tiers, prior_units) :]
    rate_numerator, rate_denominator = max(tier.rate for tier in reachable).as_integer_ratio()
    if units == 0:
        fee = 0
    else:
        if config.rate_type is RateType.FIXED:
            exact_fee = (
                rate_numerator * units * _MONEY_SCALE,
                rate_denominator * _FIXED_RATE_PER[config.tier_type],
            )
        else:
            exact_fee = (total_cost * rate_numerator, 100 * rate_denominator)
        fee = ceil_div(*exact_fee) + min(len(reachable), units) - 1
    service = _service_charge(fee, service_charge_rate)
    total_request, total_wallet, total_merchant = _totals(config, fee, total_cost, service)
    _check_range(usage, total_request, "this call could")
    return CostBound(
        fee_amount=from_money_units(fee),
        total_cost=from_money_units(total_cost),
        service_charge_amount=from_money_units(service),
        total_request_cost=from_money_units(total_request),
        total_wallet_cost=from_money_units(total_wallet),
        total_merchant_cost=from_money_units(total_merchant),
    )
