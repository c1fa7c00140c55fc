"""The pricing engine (`docs/pricing.md`): its worked examples to the digit, and its invariants.

The property tests check the engine against an independent oracle that walks a request unit by unit
to find each unit's tier and prices with exact `Fraction`s, rounding half-even only at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeVar

import pytest
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st

from lava_server.pricing import (
    MAX_AMOUNT,
    OutOfRange,
    Payer,
    PricedRequest,
    PricingConfig,
    PricingConfigError,
    PricingError,
    RateType,
    Tier,
    TierType,
    TokenBasis,
    Usage,
    cost_at_price,
    format_money,
    parse_decimal,
    parse_money,
    parse_pricing_config,
    price_request,
    price_upper_bound,
    quantize_money,
    units_for,
)

SERVICE_CHARGE_RATE = Decimal("0.019")
T = TypeVar("T")
TEN_PLACES = Fraction(1, 10**10)


def config(
    *tiers: tuple[int, str],
    tier_type: TierType = TierType.TOKENS_1M,
    **options: Any,
) -> PricingConfig:
    return PricingConfig(
        tiers=tuple(Tier(start, Decimal(rate), tier_type) for start, rate in tiers), **options
    )


def in_range(priced: Callable[[], T]) -> T:
    """Property tests draw requests past the range of money too: those raise `OutOfRange`
    (tested on its own) and are discarded."""
    try:
        return priced()
    except OutOfRange:
        reject()
        raise


def price(
    cfg: PricingConfig, usage: Usage, prior_units: int = 0, **costs: Decimal
) -> PricedRequest:
    return price_request(
        cfg, usage, prior_units=prior_units, service_charge_rate=SERVICE_CHARGE_RATE, **costs
    )


def money(priced: PricedRequest) -> dict[str, str]:
    """Every amount of a priced request as its wire string."""
    return {
        "fee": format_money(priced.fee_amount),
        "breakdown": ",".join(format_money(entry.cost) for entry in priced.breakdown),
        "input_cost": format_money(priced.input_cost),
        "output_cost": format_money(priced.output_cost),
        "total_cost": format_money(priced.total_cost),
        "service_charge": format_money(priced.service_charge_amount),
        "total_request_cost": format_money(priced.total_request_cost),
        "total_wallet_cost": format_money(priced.total_wallet_cost),
        "total_merchant_cost": format_money(priced.total_merchant_cost),
    }


# --- Worked examples, to the digit -------------------------------------------------------------

EXAMPLE_1 = config((0, "2"))
EXAMPLE_1_USAGE = Usage(input_tokens=500, output_tokens=200)


def test_example_1_fixed_one_tier_input_and_output() -> None:
    priced = price(EXAMPLE_1, EXAMPLE_1_USAGE)
    assert money(priced) == {
        "fee": "0.0014000000",
        "breakdown": "0.0014000000",
        "input_cost": "0.0000000000",
        "output_cost": "0.0000000000",
        "total_cost": "0.0000000000",
        "service_charge": "0.0000266000",
        "total_request_cost": "0.0014266000",
        "total_wallet_cost": "0.0014266000",
        "total_merchant_cost": "0.0000000000",
    }
    [entry] = priced.breakdown
    assert (entry.tier, entry.tokens, entry.characters, entry.seconds) == (
        Tier(0, Decimal("2"), TierType.TOKENS_1M),
        700,
        0,
        0,
    )
    assert entry.to_json() == {
        "tier": {"start": 0, "rate": "2", "type": "tokens_1m"},
        "tokens": 700,
        "characters": 0,
        "seconds": 0,
        "cost": "0.0014000000",
    }
    assert (priced.model_payer, priced.service_charge_payer) == (Payer.WALLET, Payer.WALLET)
    assert (priced.rate_type, priced.token_basis) == (RateType.FIXED, TokenBasis.INPUT_OUTPUT)


def test_example_2_output_token_basis() -> None:
    priced = price(replace(EXAMPLE_1, token_basis=TokenBasis.OUTPUT), EXAMPLE_1_USAGE)
    assert priced.units == 200
    assert [entry.tokens for entry in priced.breakdown] == [200]
    assert format_money(priced.fee_amount) == "0.0004000000"
    assert format_money(priced.service_charge_amount) == "0.0000076000"


EXAMPLE_3 = config((0, "5"), (1_000_000, "3"), (10_000_000, "1"))


def test_example_3_graduated_tiers_split_a_request() -> None:
    priced = price(EXAMPLE_3, Usage(output_tokens=200_000), prior_units=900_000)
    assert [(e.tier.start, e.tokens, format_money(e.cost)) for e in priced.breakdown] == [
        (0, 100_000, "0.5000000000"),
        (1_000_000, 100_000, "0.3000000000"),
    ]
    assert format_money(priced.fee_amount) == "0.8000000000"


@pytest.mark.parametrize(
    "request_sizes",
    [
        [5_000_000],
        [100_000] * 50,
        [900_000, 200_000, 3_900_000],
        [1, 999_999, 1, 3_999_999],
        [333_333] * 15 + [5],
    ],
)
def test_example_3_cumulative_fees_of_a_period(request_sizes: list[int]) -> None:
    assert sum(request_sizes) == 5_000_000
    used, fees = 0, Decimal(0)
    for size in request_sizes:
        priced = price(EXAMPLE_3, Usage(input_tokens=size), prior_units=used)
        used += priced.units
        fees += priced.fee_amount
    assert format_money(fees) == "17.0000000000"


EXAMPLE_4 = config((0, "10"), rate_type=RateType.PERCENTAGE)
EXAMPLE_4_COSTS = {"input_cost": Decimal("0.0169"), "output_cost": Decimal("0.0412")}


def test_example_4_percentage_of_provider_cost() -> None:
    priced = price(EXAMPLE_4, Usage(input_tokens=1_300, output_tokens=412), **EXAMPLE_4_COSTS)
    assert money(priced) == {
        "fee": "0.0058100000",
        "breakdown": "0.0058100000",
        "input_cost": "0.0169000000",
        "output_cost": "0.0412000000",
        "total_cost": "0.0581000000",
        "service_charge": "0.0001103900",
        "total_request_cost": "0.0640203900",
        "total_wallet_cost": "0.0640203900",
        "total_merchant_cost": "0.0000000000",
    }


def test_example_4_merchant_pays_the_base_cost() -> None:
    merchant_pays = replace(EXAMPLE_4, base_cost_payer=Payer.MERCHANT)
    priced = price(merchant_pays, Usage(input_tokens=1_300, output_tokens=412), **EXAMPLE_4_COSTS)
    assert priced.model_payer is Payer.MERCHANT
    assert format_money(priced.total_request_cost) == "0.0640203900"
    assert format_money(priced.total_wallet_cost) == "0.0059203900"
    assert format_money(priced.total_merchant_cost) == "0.0581000000"


def test_example_5_minutes_metered_in_seconds() -> None:
    priced = price(config((0, "0.006"), tier_type=TierType.MINUTES), Usage(input_seconds=90))
    assert format_money(priced.fee_amount) == "0.0090000000"
    assert [(entry.seconds, entry.tokens) for entry in priced.breakdown] == [(90, 0)]


@given(
    usage=st.builds(Usage, *[st.integers(0, 10**9)] * 6),
    prior_units=st.integers(0, 10**12),
    basis=st.sampled_from(TokenBasis),
)
def test_example_6_requests_cost_the_same_whatever_the_usage(
    usage: Usage, prior_units: int, basis: TokenBasis
) -> None:
    cfg = config((0, "0.01"), tier_type=TierType.REQUESTS, token_basis=basis)
    priced = price(cfg, usage, prior_units=prior_units)
    assert priced.units == 1
    assert format_money(priced.fee_amount) == "0.0100000000"
    [entry] = priced.breakdown
    assert (entry.units, entry.tokens, entry.characters, entry.seconds) == (1, 0, 0, 0)


def test_example_7_characters() -> None:
    cfg = config((0, "30"), tier_type=TierType.CHARACTERS_1M)
    priced = price(cfg, Usage(input_tokens=5, output_characters=1_000))
    assert format_money(priced.fee_amount) == "0.0300000000"
    assert [(entry.characters, entry.tokens) for entry in priced.breakdown] == [(1_000, 0)]


def test_example_8_overdraft_arithmetic() -> None:
    balance = parse_money("0.0010000000", field="balance")
    cost = price(EXAMPLE_1, EXAMPLE_1_USAGE).total_wallet_cost
    assert balance < cost  # `block` answers 402 and stores nothing
    assert format_money(balance - cost) == "-0.0004266000"  # `allow`


# --- Edge cases and judgement calls ------------------------------------------------------------


def test_a_request_with_no_units_shows_the_current_tier_at_no_cost() -> None:
    output_only = replace(EXAMPLE_3, token_basis=TokenBasis.OUTPUT)
    priced = price(output_only, Usage(input_tokens=7), prior_units=1_500_000)
    assert priced.units == 0
    [entry] = priced.breakdown
    assert (entry.tier.start, entry.units, entry.tokens, entry.cost) == (1_000_000, 0, 0, 0)
    assert priced.fee_amount == priced.service_charge_amount == priced.total_wallet_cost == 0


def test_a_percentage_request_with_no_units_pays_the_provider_cost_only() -> None:
    cfg = replace(EXAMPLE_4, token_basis=TokenBasis.OUTPUT)
    priced = price(cfg, Usage(input_tokens=1_300), **EXAMPLE_4_COSTS)
    assert priced.fee_amount == 0
    assert format_money(priced.total_wallet_cost) == "0.0581000000"


def test_requests_tiers_count_requests() -> None:
    cfg = config((0, "0.01"), (100, "0.005"), tier_type=TierType.REQUESTS)
    assert format_money(price(cfg, Usage(), prior_units=99).fee_amount) == "0.0100000000"
    assert format_money(price(cfg, Usage(), prior_units=100).fee_amount) == "0.0050000000"


def test_a_tier_boundary_belongs_to_the_higher_tier() -> None:
    priced = price(EXAMPLE_3, Usage(output_tokens=1), prior_units=1_000_000)
    assert [entry.tier.start for entry in priced.breakdown] == [1_000_000]
    priced = price(EXAMPLE_3, Usage(output_tokens=1), prior_units=999_999)
    assert [entry.tier.start for entry in priced.breakdown] == [0]


def test_each_breakdown_cost_is_rounded_half_even_and_the_fee_sums_them() -> None:
    # 1 token at $0.00015/1M = 1.5e-10 -> 2e-10; 1 token at $0.00025/1M = 2.5e-10 -> 2e-10.
    cfg = config((0, "0.00015"), (1, "0.00025"))
    priced = price(cfg, Usage(output_tokens=2))
    assert [format_money(entry.cost) for entry in priced.breakdown] == [
        "0.0000000002",
        "0.0000000002",
    ]
    assert format_money(priced.fee_amount) == "0.0000000004"  # not round(4.0e-10) of the whole


def test_minutes_rounding_and_service_charge_rounding() -> None:
    priced = price(config((0, "0.01"), tier_type=TierType.MINUTES), Usage(output_seconds=1))
    assert format_money(priced.fee_amount) == "0.0001666667"  # 0.01 / 60
    assert format_money(priced.service_charge_amount) == "0.0000031667"  # x 0.019, rounded


def test_provider_costs_are_rounded_each_to_ten_places() -> None:
    priced = price(
        EXAMPLE_1,
        Usage(),
        input_cost=Decimal("0.00000000005"),  # a tie: to even, 0
        output_cost=Decimal("0.00000000015"),  # a tie: to even, 2e-10
    )
    assert format_money(priced.input_cost) == "0.0000000000"
    assert format_money(priced.output_cost) == "0.0000000002"
    assert format_money(priced.total_cost) == "0.0000000002"


def test_cost_at_price() -> None:
    assert format_money(cost_at_price(1_000, Decimal("2.5"), per=1_000_000)) == "0.0025000000"
    assert format_money(cost_at_price(1, Decimal("0.01"), per=60)) == "0.0001666667"
    assert format_money(cost_at_price(3, Decimal("0.00000000005"))) == "0.0000000002"
    assert cost_at_price(0, Decimal("7")) == 0
    with pytest.raises(PricingError) as error:
        cost_at_price(1, Decimal("1"), per=0)
    assert error.value.field == "per"


def test_amounts_up_to_the_limit_are_exact() -> None:
    cfg = config((0, "59999999.9999999999"), tier_type=TierType.REQUESTS)
    priced = price(cfg, Usage(), input_cost=Decimal("38000000.00000000005"))
    assert format_money(priced.fee_amount) == "59999999.9999999999"
    assert format_money(priced.input_cost) == "38000000.0000000000"
    parts = [priced.total_cost, priced.fee_amount, priced.service_charge_amount]
    assert Fraction(priced.total_request_cost) == sum(Fraction(part) for part in parts)
    assert priced.total_request_cost <= MAX_AMOUNT


@pytest.mark.parametrize(
    ("usage", "input_cost", "field"),
    [
        (Usage(), Decimal("100000000.0000000001"), "input_tokens"),
        (Usage(output_tokens=10**15 + 1), Decimal(0), "output_tokens"),
        (Usage(input_seconds=10**12), Decimal("100000000.5"), "input_seconds"),
    ],
)
def test_a_request_past_the_range_is_refused(usage: Usage, input_cost: Decimal, field: str) -> None:
    cfg = config((0, "0"), tier_type=TierType.REQUESTS)
    with pytest.raises(OutOfRange) as error:
        price(cfg, usage, input_cost=input_cost)
    assert error.value.field == field
    with pytest.raises(OutOfRange):
        price_upper_bound(
            cfg,
            usage,
            prior_units=0,
            service_charge_rate=SERVICE_CHARGE_RATE,
            input_cost=input_cost,
        )


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"prior_units": -1}, "prior_units"),
        ({"service_charge_rate": Decimal("-0.1")}, "service_charge_rate"),
        ({"service_charge_rate": Decimal("NaN")}, "service_charge_rate"),
        ({"input_cost": Decimal("-1")}, "input_cost"),
        ({"output_cost": Decimal("Infinity")}, "output_cost"),
        ({"output_cost": 0.5}, "output_cost"),
    ],
)
def test_price_request_rejects_bad_arguments(arguments: dict[str, Any], field: str) -> None:
    call: dict[str, Any] = {"prior_units": 0, "service_charge_rate": SERVICE_CHARGE_RATE}
    with pytest.raises(PricingError) as error:
        price_request(EXAMPLE_1, Usage(), **(call | arguments))
    assert error.value.field == field


@pytest.mark.parametrize("value", [-1, True, 1.0, "1", None])
def test_usage_counts_are_integers_at_least_zero(value: Any) -> None:
    with pytest.raises(PricingError) as error:
        Usage(output_seconds=value)
    assert error.value.field == "output_seconds"


def test_units_for_each_tier_type_and_basis() -> None:
    usage = Usage(1, 2, 30, 40, 500, 600)
    expected = {
        TierType.TOKENS_1M: (3, 2),
        TierType.CHARACTERS_1M: (70, 40),
        TierType.MINUTES: (1100, 600),
        TierType.REQUESTS: (1, 1),
    }
    for tier_type, (both, output) in expected.items():
        cfg = config((0, "1"), tier_type=tier_type)
        assert units_for(cfg, usage) == both
        assert units_for(replace(cfg, token_basis=TokenBasis.OUTPUT), usage) == output


# --- The upper bound used for holds ------------------------------------------------------------


def test_upper_bound_equals_the_price_for_a_single_exact_tier() -> None:
    bound = price_upper_bound(
        EXAMPLE_1, EXAMPLE_1_USAGE, prior_units=0, service_charge_rate=SERVICE_CHARGE_RATE
    )
    assert format_money(bound.total_wallet_cost) == "0.0014266000"


def test_upper_bound_prices_at_the_dearest_tier_the_connection_may_reach() -> None:
    cfg = config((0, "1"), (1_000, "5"), (2_000, "2"))
    bound = price_upper_bound(
        cfg, Usage(output_tokens=500), prior_units=0, service_charge_rate=Decimal(0)
    )
    # At 0 used, 500 tokens cost 0.0005; at 900 used (others in flight), 0.0001 + 0.002.
    assert format_money(price(cfg, Usage(output_tokens=500), 900).fee_amount) == "0.0021000000"
    # 500 x $5/1M rounded up, + 2e-10 for the two further tiers such a request may touch.
    assert format_money(bound.fee_amount) == "0.0025000002"
    # Past the dear tier, only the cheaper ones remain.
    bound = price_upper_bound(
        cfg, Usage(output_tokens=500), prior_units=2_000, service_charge_rate=Decimal(0)
    )
    assert format_money(bound.fee_amount) == "0.0010000000"


def test_upper_bound_covers_every_part_rounding_up() -> None:
    cfg = config((0, "0.00006"), (1, "0.00006"), (2, "0.00006"))  # 0.6e-10 per token
    priced = price(cfg, Usage(output_tokens=3))
    assert format_money(priced.fee_amount) == "0.0000000003"  # 3 parts, each rounded up to 1e-10
    bound = price_upper_bound(
        cfg, Usage(output_tokens=3), prior_units=0, service_charge_rate=SERVICE_CHARGE_RATE
    )
    assert format_money(bound.fee_amount) == "0.0000000004"  # ceil(1.8e-10) + 2 x 1e-10


# --- Money strings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("0.0014"), "0.0014000000"),
        (Decimal(0), "0.0000000000"),
        (Decimal("-0"), "0.0000000000"),
        (Decimal("-0.0004266"), "-0.0004266000"),
        (Decimal("12"), "12.0000000000"),
        (Decimal("1E+3"), "1000.0000000000"),
        (Decimal("1E-10"), "0.0000000001"),
        (Decimal("0.00140000000000"), "0.0014000000"),
        (Decimal("123456789012345678901234567890.5"), "123456789012345678901234567890.5000000000"),
    ],
)
def test_format_money(amount: Decimal, text: str) -> None:
    assert format_money(amount) == text


@pytest.mark.parametrize(
    "amount", [Decimal("NaN"), Decimal("Infinity"), Decimal("0.00000000001"), 0.5, 1]
)
def test_format_money_refuses_what_is_not_a_ten_place_amount(amount: Any) -> None:
    with pytest.raises(ValueError):
        format_money(amount)


def test_quantize_money_is_half_even_and_exact_beyond_28_digits() -> None:
    assert format_money(quantize_money(Decimal("0.00000000005"))) == "0.0000000000"
    assert format_money(quantize_money(Decimal("0.00000000015"))) == "0.0000000002"
    assert format_money(quantize_money(Decimal("-0.00000000015"))) == "-0.0000000002"
    huge = Decimal("100000000000000000000000000000.00000000005")
    assert format_money(quantize_money(huge)) == "100000000000000000000000000000.0000000000"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", "0.0000000000"),
        ("12", "12.0000000000"),
        ("0.5", "0.5000000000"),
        ("0.0000000001", "0.0000000001"),
        ("100000000", "100000000.0000000000"),
        ("99999999.9999999999", "99999999.9999999999"),
    ],
)
def test_parse_money(text: str, expected: str) -> None:
    parsed = parse_money(text, field="amount")
    assert format_money(parsed) == expected
    assert parsed.as_tuple().exponent == -10


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        "-1",
        "-0",
        "+1",
        "1e3",
        "1E-3",
        " 1",
        "1 ",
        "",
        ".5",
        "5.",
        "1.",
        "1.00000000001",
        "0.00000000000",
        "1_000",
        "007.25",
        "00",
        "1,5",
        "0x10",
        "\u0661",  # ARABIC-INDIC DIGIT ONE: Decimal() would accept it
        "1" * 19,
        "100000000.0000000001",
        "100000001",
        1.5,
        1,
        None,
        Decimal("1"),
    ],
)
def test_parse_money_rejects_what_is_not_a_plain_decimal_string(text: Any) -> None:
    with pytest.raises(PricingError) as error:
        parse_money(text, field="amount")
    assert error.value.field == "amount"


def test_parse_decimal_keeps_the_scale_given() -> None:
    assert str(parse_decimal("2.50", field="rate")) == "2.50"


@given(st.decimals(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT, places=10))
def test_money_strings_round_trip(amount: Decimal) -> None:
    text = format_money(amount)
    assert Decimal(text) == amount
    assert parse_money(text.removeprefix("-"), field="x") == abs(amount)


# --- Configuration validation ------------------------------------------------------------------

VALID_PRODUCT: dict[str, Any] = {
    "rate_type": "fixed",
    "token_basis": "input+output",
    "tiers": [
        {"start": 0, "rate": "5", "type": "tokens_1m"},
        {"start": 1_000_000, "rate": "3", "type": "tokens_1m"},
        {"start": 10_000_000, "rate": "1", "type": "tokens_1m"},
    ],
    "base_cost_payer": "wallet",
    "service_charge_payer": "merchant",
}


def test_parse_pricing_config_and_back() -> None:
    cfg = parse_pricing_config(VALID_PRODUCT)
    assert cfg == replace(EXAMPLE_3, service_charge_payer=Payer.MERCHANT)
    assert cfg.to_json() == VALID_PRODUCT


def test_parse_pricing_config_defaults() -> None:
    cfg = parse_pricing_config({"tiers": [{"start": 0, "rate": "2", "type": "minutes"}], "x": 1})
    assert cfg == config((0, "2"), tier_type=TierType.MINUTES)
    assert (cfg.rate_type, cfg.token_basis) == (RateType.FIXED, TokenBasis.INPUT_OUTPUT)
    assert (cfg.base_cost_payer, cfg.service_charge_payer) == (Payer.WALLET, Payer.WALLET)


def with_tier(index: int, **changes: Any) -> dict[str, Any]:
    tiers = [dict(tier) for tier in VALID_PRODUCT["tiers"]]
    tiers[index].update(changes)
    return VALID_PRODUCT | {"tiers": tiers}


def without_tier_key(index: int, key: str) -> dict[str, Any]:
    tiers = [dict(tier) for tier in VALID_PRODUCT["tiers"]]
    del tiers[index][key]
    return VALID_PRODUCT | {"tiers": tiers}


@pytest.mark.parametrize(
    ("product", "field"),
    [
        ({}, "tiers"),
        (VALID_PRODUCT | {"tiers": []}, "tiers"),
        (VALID_PRODUCT | {"tiers": {"start": 0}}, "tiers"),
        (VALID_PRODUCT | {"tiers": "[]"}, "tiers"),
        (VALID_PRODUCT | {"tiers": [None]}, "tiers[0]"),
        (VALID_PRODUCT | {"rate_type": "flat"}, "rate_type"),
        (VALID_PRODUCT | {"token_basis": "input"}, "token_basis"),
        (VALID_PRODUCT | {"token_basis": None}, "token_basis"),
        (VALID_PRODUCT | {"base_cost_payer": "provider"}, "base_cost_payer"),
        (VALID_PRODUCT | {"service_charge_payer": "Wallet"}, "service_charge_payer"),
        (with_tier(0, start=1), "tiers[0].start"),
        (with_tier(1, start=0), "tiers[1].start"),
        (with_tier(2, start=1_000_000), "tiers[2].start"),
        (with_tier(2, start=999_999), "tiers[2].start"),
        (with_tier(1, start=-5), "tiers[1].start"),
        (with_tier(1, start=1e6), "tiers[1].start"),
        (with_tier(1, start="1000000"), "tiers[1].start"),
        (with_tier(0, start=False), "tiers[0].start"),
        (with_tier(2, rate="-1"), "tiers[2].rate"),
        (with_tier(2, rate=1), "tiers[2].rate"),
        (with_tier(2, rate="NaN"), "tiers[2].rate"),
        (with_tier(2, rate="1e2"), "tiers[2].rate"),
        (with_tier(2, rate="0.00000000001"), "tiers[2].rate"),
        (with_tier(1, type="characters_1m"), "tiers[1].type"),
        (with_tier(1, type="tokens"), "tiers[1].type"),
        (with_tier(0, type="seconds"), "tiers[0].type"),
        (with_tier(1, starts=5), "tiers[1].starts"),
        (without_tier_key(1, "rate"), "tiers[1].rate"),
        (without_tier_key(0, "type"), "tiers[0].type"),
    ],
)
def test_parse_pricing_config_names_the_bad_field(product: dict[str, Any], field: str) -> None:
    with pytest.raises(PricingConfigError) as error:
        parse_pricing_config(product)
    assert error.value.field == field
    assert str(error.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tiers": ()}, "tiers"),
        ({"rate_type": "fixed"}, "rate_type"),  # a str, not the enum
        ({"tiers": (Tier(1, Decimal(1), TierType.MINUTES),)}, "tiers[0].start"),
        ({"tiers": (Tier(0, Decimal("-0.1"), TierType.MINUTES),)}, "tiers[0].rate"),
        ({"tiers": (Tier(0, Decimal("Infinity"), TierType.MINUTES),)}, "tiers[0].rate"),
        ({"tiers": (Tier(0, "1", TierType.MINUTES),)}, "tiers[0].rate"),  # a str rate
    ],
)
def test_the_constructor_validates_too(changes: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {"tiers": (Tier(0, Decimal(1), TierType.MINUTES),)} | changes
    with pytest.raises(PricingConfigError) as error:
        PricingConfig(**fields)
    assert error.value.field == field


def test_a_tier_list_is_stored_as_a_tuple() -> None:
    cfg = PricingConfig(tiers=[Tier(0, Decimal(1), TierType.MINUTES)])  # type: ignore[arg-type]
    assert cfg.tiers == (Tier(0, Decimal(1), TierType.MINUTES),)


# --- Strategies --------------------------------------------------------------------------------


def rates(places: int = 10, max_value: int = 1_000) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=0, max_value=max_value, places=places)


@st.composite
def tier_lists(
    draw: st.DrawFn,
    tier_type: TierType | None = None,
    rate: st.SearchStrategy[Decimal] | None = None,
    max_start: int = 2_000,
) -> tuple[Tier, ...]:
    kind = tier_type or draw(st.sampled_from(TierType))
    later_starts = draw(st.lists(st.integers(1, max_start), max_size=5, unique=True))
    rate_strategy = rate if rate is not None else rates(draw(st.integers(0, 10)))
    return tuple(Tier(start, draw(rate_strategy), kind) for start in [0, *sorted(later_starts)])


@st.composite
def configs(
    draw: st.DrawFn,
    rate_type: RateType | None = None,
    tier_type: TierType | None = None,
    rate: st.SearchStrategy[Decimal] | None = None,
    max_start: int = 2_000,
) -> PricingConfig:
    return PricingConfig(
        tiers=draw(tier_lists(tier_type, rate, max_start)),
        rate_type=rate_type or draw(st.sampled_from(RateType)),
        token_basis=draw(st.sampled_from(TokenBasis)),
        base_cost_payer=draw(st.sampled_from(Payer)),
        service_charge_payer=draw(st.sampled_from(Payer)),
    )


def usages(max_count: int = 1_000) -> st.SearchStrategy[Usage]:
    return st.builds(Usage, *[st.integers(0, max_count)] * 6)


provider_costs = st.decimals(min_value=0, max_value=100, places=14)
service_charge_rates = st.decimals(min_value=0, max_value=1, places=4)


def usage_with_units(cfg: PricingConfig, units: int, input_units: int) -> Usage:
    """A usage of exactly `units` units for `cfg` (not for `requests` tiers)."""
    input_units = min(input_units, units) if cfg.token_basis is TokenBasis.INPUT_OUTPUT else 7
    output_units = units - input_units if cfg.token_basis is TokenBasis.INPUT_OUTPUT else units
    kind = {
        TierType.TOKENS_1M: "tokens",
        TierType.CHARACTERS_1M: "characters",
        TierType.MINUTES: "seconds",
    }[cfg.tier_type]
    usage = Usage(**{f"input_{kind}": input_units, f"output_{kind}": output_units})
    assert units_for(cfg, usage) == units
    return usage


# --- The oracle --------------------------------------------------------------------------------

PER = {TierType.TOKENS_1M: 10**6, TierType.CHARACTERS_1M: 10**6, TierType.MINUTES: 60}


def oracle_parts(tiers: tuple[Tier, ...], prior_units: int, units: int) -> list[tuple[Tier, int]]:
    """Each unit of [prior_units, prior_units + units) in the last tier starting at or before it."""
    counts: dict[int, int] = {}
    for unit in range(prior_units, prior_units + units):
        index = max(i for i, tier in enumerate(tiers) if tier.start <= unit)
        counts[index] = counts.get(index, 0) + 1
    return [(tiers[index], count) for index, count in sorted(counts.items())]


def oracle_exact_cost(
    cfg: PricingConfig, tier: Tier, part: int, units: int, base: Decimal
) -> Fraction:
    if cfg.rate_type is RateType.PERCENTAGE:
        return Fraction(base) * Fraction(part, units) * Fraction(tier.rate) / 100 if units else 0
    per = PER.get(tier.type, 1)
    return Fraction(tier.rate) * part / per


def nonempty_parts(priced: PricedRequest) -> list[tuple[Tier, int]]:
    return [(entry.tier, entry.units) for entry in priced.breakdown if entry.units]


def parts_per_tier(parts: list[tuple[Tier, int]]) -> dict[int, int]:
    totals: dict[int, int] = {}
    for tier, units in parts:
        totals[tier.start] = totals.get(tier.start, 0) + units
    return totals


# --- Invariants --------------------------------------------------------------------------------


@given(
    cfg=configs(max_start=10**13),
    usage=usages(10**12),
    prior_units=st.integers(0, 10**13),
    input_cost=provider_costs,
    output_cost=provider_costs,
    service_charge_rate=service_charge_rates,
)
def test_totals_are_the_sums_of_their_parts(
    cfg: PricingConfig,
    usage: Usage,
    prior_units: int,
    input_cost: Decimal,
    output_cost: Decimal,
    service_charge_rate: Decimal,
) -> None:
    priced = in_range(
        lambda: price_request(
            cfg,
            usage,
            prior_units=prior_units,
            service_charge_rate=service_charge_rate,
            input_cost=input_cost,
            output_cost=output_cost,
        )
    )
    amounts = [
        priced.fee_amount,
        priced.input_cost,
        priced.output_cost,
        priced.total_cost,
        priced.service_charge_amount,
        priced.total_request_cost,
        priced.total_wallet_cost,
        priced.total_merchant_cost,
        *(entry.cost for entry in priced.breakdown),
    ]
    assert all(amount.as_tuple().exponent == -10 and amount >= 0 for amount in amounts)
    assert priced.input_cost == quantize_money(input_cost)
    assert priced.output_cost == quantize_money(output_cost)
    assert priced.total_cost == priced.input_cost + priced.output_cost
    assert priced.fee_amount == sum(entry.cost for entry in priced.breakdown)
    assert Fraction(priced.service_charge_amount) == round(
        Fraction(priced.fee_amount) * Fraction(service_charge_rate), 10
    )
    assert priced.total_request_cost == (
        priced.total_cost + priced.fee_amount + priced.service_charge_amount
    )
    assert priced.total_wallet_cost + priced.total_merchant_cost == priced.total_request_cost
    wallet_parts = [priced.fee_amount]
    merchant_parts: list[Decimal] = []
    for payer, amount in [
        (cfg.base_cost_payer, priced.total_cost),
        (cfg.service_charge_payer, priced.service_charge_amount),
    ]:
        (wallet_parts if payer is Payer.WALLET else merchant_parts).append(amount)
    assert priced.total_wallet_cost == sum(wallet_parts)
    assert priced.total_merchant_cost == sum(merchant_parts)
    # The breakdown: tiers in order, one entry per tier, units adding up to the request's.
    starts = [entry.tier.start for entry in priced.breakdown]
    assert starts == sorted(set(starts))
    assert sum(entry.units for entry in priced.breakdown) == priced.units == units_for(cfg, usage)
    current = max(tier.start for tier in cfg.tiers if tier.start <= prior_units)
    assert starts[0] == current
    for entry in priced.breakdown:
        kinds = (entry.tokens, entry.characters, entry.seconds)
        assert sorted(kinds) == (
            [0, 0, 0] if entry.tier.type is TierType.REQUESTS else [0, 0, entry.units]
        )


@settings(deadline=None)
@given(
    cfg=configs(),
    usage=usages(),
    prior_units=st.integers(0, 2_500),
    input_cost=provider_costs,
    output_cost=provider_costs,
)
def test_the_breakdown_matches_a_unit_by_unit_exact_oracle(
    cfg: PricingConfig, usage: Usage, prior_units: int, input_cost: Decimal, output_cost: Decimal
) -> None:
    priced = price(cfg, usage, prior_units, input_cost=input_cost, output_cost=output_cost)
    units = units_for(cfg, usage)
    assert nonempty_parts(priced) == oracle_parts(cfg.tiers, prior_units, units)
    for entry in priced.breakdown:
        exact = oracle_exact_cost(cfg, entry.tier, entry.units, units, priced.total_cost)
        assert Fraction(entry.cost) == round(Fraction(exact), 10)  # Fraction rounds half-even


# --- Splitting a request never changes what its units cost --------------------------------------


def price_in_pieces(
    cfg: PricingConfig, prior_units: int, pieces: list[int], input_share: int, unit_cost: Decimal
) -> tuple[PricedRequest, list[PricedRequest]]:
    """Price `sum(pieces)` units at once, and the pieces one after another from the same position.

    A percentage product's provider cost is `unit_cost` per unit, so the pieces' costs add up to
    the whole's."""

    def one(units: int, at: int) -> PricedRequest:
        return price(
            cfg,
            usage_with_units(cfg, units, input_share),
            at,
            input_cost=cost_at_price(units, unit_cost),
        )

    whole = one(sum(pieces), prior_units)
    priced_pieces = []
    at = prior_units
    for units in pieces:
        priced_pieces.append(one(units, at))
        at += units
    return whole, priced_pieces


splittable_types = st.sampled_from([TierType.TOKENS_1M, TierType.CHARACTERS_1M, TierType.MINUTES])
pieces_lists = st.lists(st.integers(0, 800), min_size=1, max_size=6)


@st.composite
def exact_configs(draw: st.DrawFn) -> PricingConfig:
    """Configs whose every part costs an exact multiple of 1e-10, so no rounding happens:
    per-1M rates with at most 4 places, per-minute rates in steps of 6e-9 (x seconds / 60 =
    1e-10 steps), percentages with at most 4 places of a per-unit cost with at most 4 places."""
    rate_type = draw(st.sampled_from(RateType))
    tier_type = draw(splittable_types)
    if rate_type is RateType.FIXED and tier_type is TierType.MINUTES:
        rate = st.integers(0, 10**9).map(lambda steps: steps * Decimal("6E-9"))
    else:
        rate = rates(places=4)
    return draw(configs(rate_type, tier_type, rate))


@settings(deadline=None)
@given(
    cfg=exact_configs(),
    prior_units=st.integers(0, 2_500),
    pieces=pieces_lists,
    input_share=st.integers(0, 800),
    unit_cost=st.decimals(min_value=0, max_value=10, places=4),
)
def test_splitting_a_request_does_not_change_the_fee_when_parts_are_exact(
    cfg: PricingConfig, prior_units: int, pieces: list[int], input_share: int, unit_cost: Decimal
) -> None:
    whole, priced_pieces = price_in_pieces(cfg, prior_units, pieces, input_share, unit_cost)
    assert parts_per_tier([p for piece in priced_pieces for p in nonempty_parts(piece)]) == (
        parts_per_tier(nonempty_parts(whole))
    )
    assert sum(piece.fee_amount for piece in priced_pieces) == whole.fee_amount
    assert sum(piece.total_cost for piece in priced_pieces) == whole.total_cost


@settings(deadline=None)
@given(
    cfg=splittable_types.flatmap(lambda tier_type: configs(tier_type=tier_type)),
    prior_units=st.integers(0, 2_500),
    pieces=pieces_lists,
    input_share=st.integers(0, 800),
    unit_cost=st.decimals(min_value=0, max_value=10, places=10),
)
def test_splitting_a_request_changes_the_fee_by_rounding_only(
    cfg: PricingConfig, prior_units: int, pieces: list[int], input_share: int, unit_cost: Decimal
) -> None:
    """With any rates, each rounded part is within 0.5e-10 of its exact cost, and the exact costs
    of the pieces add up to the exact cost of the whole (same units in the same tiers, and for
    percentages the same share of the same provider cost). So the fees differ by at most 0.5e-10
    per breakdown entry on either side."""
    whole, priced_pieces = price_in_pieces(cfg, prior_units, pieces, input_share, unit_cost)
    assert parts_per_tier([p for piece in priced_pieces for p in nonempty_parts(piece)]) == (
        parts_per_tier(nonempty_parts(whole))
    )
    entries = len(whole.breakdown) + sum(len(piece.breakdown) for piece in priced_pieces)
    difference = Fraction(sum(piece.fee_amount for piece in priced_pieces) - whole.fee_amount)
    assert abs(difference) <= entries * TEN_PLACES / 2


def test_splitting_with_inexact_parts_can_differ_by_rounding() -> None:
    """The bound above is reached: the fixed-rate split is not exact in general."""
    cfg = config((0, "0.01"), tier_type=TierType.MINUTES)  # 1 s = 0.0001666666...
    whole, pieces = price_in_pieces(cfg, 0, [1, 1, 1], 0, Decimal(0))
    assert format_money(whole.fee_amount) == "0.0005000000"
    assert format_money(sum(piece.fee_amount for piece in pieces)) == "0.0005000001"


# --- The upper bound holds against every price it bounds ---------------------------------------


@settings(deadline=None)
@given(
    cfg=configs(max_start=5_000),
    worst=usages(3_000),
    prior_units=st.integers(0, 5_000),
    worst_costs=st.tuples(provider_costs, provider_costs),
    data=st.data(),
    service_charge_rate=service_charge_rates,
)
def test_the_upper_bound_bounds_every_smaller_request_at_any_later_position(
    cfg: PricingConfig,
    worst: Usage,
    prior_units: int,
    worst_costs: tuple[Decimal, Decimal],
    data: st.DataObject,
    service_charge_rate: Decimal,
) -> None:
    counts = {name: data.draw(st.integers(0, value)) for name, value in vars(worst).items()}
    actual = Usage(**counts)
    actual_costs = [data.draw(st.decimals(min_value=0, max_value=cost)) for cost in worst_costs]
    later = prior_units + data.draw(st.integers(0, 3_000))
    bound = price_upper_bound(
        cfg,
        worst,
        prior_units=prior_units,
        service_charge_rate=service_charge_rate,
        input_cost=worst_costs[0],
        output_cost=worst_costs[1],
    )
    priced = price_request(
        cfg,
        actual,
        prior_units=later,
        service_charge_rate=service_charge_rate,
        input_cost=actual_costs[0],
        output_cost=actual_costs[1],
    )
    for name in [
        "fee_amount",
        "total_cost",
        "service_charge_amount",
        "total_request_cost",
        "total_wallet_cost",
        "total_merchant_cost",
    ]:
        assert getattr(priced, name) <= getattr(bound, name), name


@given(cfg=configs(max_start=10**9), usage=usages(10**9), past_last_start=st.integers(0, 10**9))
def test_the_upper_bound_is_tight_up_to_rounding_when_the_tier_cannot_change(
    cfg: PricingConfig, usage: Usage, past_last_start: int
) -> None:
    prior_units = cfg.tiers[-1].start + past_last_start  # only the last tier is reachable
    bound = in_range(
        lambda: price_upper_bound(
            cfg, usage, prior_units=prior_units, service_charge_rate=Decimal(0)
        )
    )
    priced = in_range(lambda: price(cfg, usage, prior_units))
    assert 0 <= bound.fee_amount - priced.fee_amount <= Decimal("1E-10")


# --- Validation, as a property ------------------------------------------------------------------

KEY_CHARACTERS = "abcdefghijklmnopqrstuvwxyz_+01 \u00e9"
CORRUPTIONS = [
    "first_start",
    "not_ascending",
    "mixed_type",
    "negative_rate",
    "unknown_type",
    "fractional_start",
    "missing_key",
    "extra_key",
]


@given(cfg=configs(max_start=10**9), corruption=st.sampled_from(CORRUPTIONS), data=st.data())
def test_validation_names_the_tier_field_at_fault(
    cfg: PricingConfig, corruption: str, data: st.DataObject
) -> None:
    product = cfg.to_json()
    assert parse_pricing_config(product) == cfg  # the valid list round-trips
    tiers: list[dict[str, Any]] = list(product["tiers"])  # type: ignore[call-overload]
    index = data.draw(st.integers(0, len(tiers) - 1))
    tier = tiers[index] = dict(tiers[index])
    if corruption == "first_start":
        index = 0
        tiers[0] = tier = dict(tiers[0]) | {"start": data.draw(st.integers(1, 10**9))}
        field = "start"
    elif corruption == "not_ascending":
        assume(index > 0)
        tier["start"] = data.draw(st.integers(0, tiers[index - 1]["start"]))
        field = "start"
    elif corruption == "mixed_type":
        assume(index > 0)
        others = [kind.value for kind in TierType if kind.value != tier["type"]]
        tier["type"] = data.draw(st.sampled_from(others))
        field = "type"
    elif corruption == "negative_rate":
        tier["rate"] = "-" + tier["rate"]
        field = "rate"
    elif corruption == "unknown_type":
        tier["type"] = data.draw(
            st.text(KEY_CHARACTERS, max_size=12).filter(lambda t: t not in set(TierType))
        )
        field = "type"
    elif corruption == "fractional_start":
        tier["start"] = tier["start"] + 0.5
        field = "start"
    elif corruption == "missing_key":
        field = data.draw(st.sampled_from(["start", "rate", "type"]))
        del tier[field]
    else:
        field = data.draw(
            st.text(KEY_CHARACTERS, min_size=1, max_size=8).filter(lambda k: k not in tier)
        )
        tier[field] = 1
    with pytest.raises(PricingConfigError) as error:
        parse_pricing_config(product | {"tiers": tiers})
    assert error.value.field == f"tiers[{index}].{field}"


@given(cfg=configs(max_start=10**15))
def test_configs_round_trip_through_json(cfg: PricingConfig) -> None:
    assert parse_pricing_config(cfg.to_json()) == cfg
