"""What a stored forwarded request must say, recomputed independently from `docs/pricing.md`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lava_server.model_prices.book import provider_cost
from lava_server.pricing import Usage, format_money, parse_pricing_config, price_request
from lava_server.proxy.usage import make_usage

SERVICE_CHARGE_RATE = Decimal("0.019")


def expected_price(
    product: dict[str, Any],
    provider: str,
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    prior_units: int = 0,
) -> dict[str, str]:
    usage = make_usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
    )
    input_cost, output_cost = provider_cost(provider, model, usage)
    priced = price_request(
        parse_pricing_config(product),
        Usage(input_tokens=input_tokens, output_tokens=output_tokens),
        prior_units=prior_units,
        service_charge_rate=SERVICE_CHARGE_RATE,
        input_cost=input_cost,
        output_cost=output_cost,
    )
    return {
        "input_cost": format_money(priced.input_cost),
        "output_cost": format_money(priced.output_cost),
        "total_cost": format_money(priced.total_cost),
        "fee": format_money(priced.fee_amount),
        "service_charge": format_money(priced.service_charge_amount),
        "total_wallet_cost": format_money(priced.total_wallet_cost),
    }


def assert_billed(
    stored: dict[str, Any],
    product: dict[str, Any],
    *,
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    status: str = "completed",
    **extra: int,
) -> None:
    """The stored request has these counts, priced per `docs/pricing.md` with the model's prices."""
    usage = stored["model_usage"]
    assert stored["status"] == status, stored
    assert stored["provider"] == provider
    assert stored["model"] == model
    assert (usage["input_tokens"], usage["output_tokens"]) == (input_tokens, output_tokens)
    want = expected_price(
        product,
        provider,
        model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        **extra,
    )
    got = {
        "input_cost": usage["input_cost"],
        "output_cost": usage["output_cost"],
        "total_cost": usage["total_cost"],
        "fee": stored["fee"]["amount"],
        "service_charge": stored["service_charge"]["amount"],
        "total_wallet_cost": stored["total_wallet_cost"],
    }
    assert got == want
    assert Decimal(usage["total_cost"]) > 0, "the model should be priced by genai-prices"
