"""Request rows and their ledger postings: the one place that turns a priced request into the
values stored (`requests` table) and the entries posted (`docs/pricing.md` step 7)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from lava_server.pricing import PricedRequest, PricingConfig, Usage
from lava_server.wallets.ledger import Posting, wallet_account

ZERO = Decimal(0)


def postings_for(
    wallet_id: str, merchant_id: str, provider: str, priced: PricedRequest
) -> list[Posting]:
    """`docs/pricing.md` step 7: wallet, merchant, provider and platform, summing to zero."""
    merchant = f"merchant:{merchant_id}"
    return [
        Posting(wallet_account(wallet_id), -priced.total_wallet_cost, "usage", wallet_id),
        Posting(merchant, priced.fee_amount, "fee"),
        Posting(merchant, -priced.total_merchant_cost, "merchant_cost"),
        Posting(f"provider:{provider}", priced.total_cost, "provider_cost"),
        Posting("platform", priced.service_charge_amount, "service_charge"),
    ]


def merchant_postings(merchant_id: str, provider: str, priced: PricedRequest) -> list[Posting]:
    """A call the merchant pays (no wallet, `docs/forward-proxy.md#who-pays`): `postings_for`
    without the wallet, which pays nothing."""
    assert priced.total_wallet_cost == 0
    merchant = f"merchant:{merchant_id}"
    return [
        Posting(merchant, priced.fee_amount, "fee"),
        Posting(merchant, -priced.total_merchant_cost, "merchant_cost"),
        Posting(f"provider:{provider}", priced.total_cost, "provider_cost"),
        Posting("platform", priced.service_charge_amount, "service_charge"),
    ]


def priced_columns(priced: PricedRequest) -> dict[str, Any]:
    """The money columns of a request row, from its price."""
    return {
        "input_cost": priced.input_cost,
        "output_cost": priced.output_cost,
        "total_cost": priced.total_cost,
        "model_payer": priced.model_payer.value,
        "fee_amount": priced.fee_amount,
        "rate_type": priced.rate_type.value,
        "token_basis": priced.token_basis.value,
        "fee_breakdown": [entry.to_json() for entry in priced.breakdown],
        "service_charge_amount": priced.service_charge_amount,
        "service_charge_payer": priced.service_charge_payer.value,
        "total_request_cost": priced.total_request_cost,
        "total_wallet_cost": priced.total_wallet_cost,
        "total_merchant_cost": priced.total_merchant_cost,
    }


def usage_columns(usage: Usage) -> dict[str, Any]:
    """The counts of a request row (and the provider's answer id)."""
    return {
        "response_id": usage.response_id[:255] if usage.response_id else None,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "input_characters": usage.input_characters,
        "output_characters": usage.output_characters,
        "input_seconds": usage.input_seconds,
        "output_seconds": usage.output_seconds,
    }


def unpriced_columns(config: PricingConfig) -> dict[str, Any]:
    """The money columns of a request not priced (yet): zeros, with the product's settings."""
    return {
        "input_cost": ZERO,
        "output_cost": ZERO,
        "total_cost": ZERO,
        "model_payer": config.base_cost_payer.value,
        "fee_amount": ZERO,
        "rate_type": config.rate_type.value,
        "token_basis": config.token_basis.value,
        "fee_breakdown": [],
        "service_charge_amount": ZERO,
        "service_charge_payer": config.service_charge_payer.value,
        "total_request_cost": ZERO,
        "total_wallet_cost": ZERO,
        "total_merchant_cost": ZERO,
    }


def request_row(
    *,
    request_id: str,
    merchant_id: str,
    livemode: bool,
    connection_id: str | None,
    product_id: str | None,
    wallet_id: str | None,
    status: str,
    provider: str,
    provider_key_type: str,
    endpoint: str,
    model: str | None,
    usage: Usage | None,
    config: PricingConfig,
    priced: PricedRequest | None,
    hold: Decimal,
    metadata: dict[str, str],
    fingerprint: str,
    created_at: datetime,
    process_id: str | None = None,
    spend_key_id: str | None = None,
) -> dict[str, Any]:
    """Every column of a request row (`seq` aside), by attribute name: the one builder for both
    doors (a reported request, a forwarded call's pending, final or released row)."""
    row: dict[str, Any] = {
        "request_id": request_id,
        "merchant_id": merchant_id,
        "livemode": livemode,
        "connection_id": connection_id,
        "product_id": product_id,
        "wallet_id": wallet_id,
        "status": status,
        "provider": provider,
        "provider_key_type": provider_key_type,
        "endpoint": endpoint,
        "model": model,
        **usage_columns(usage if usage is not None else _NO_USAGE),
        **(priced_columns(priced) if priced is not None else unpriced_columns(config)),
        "hold_amount": hold,
        "request_metadata": metadata,
        "fingerprint": fingerprint,
        "timestamp": created_at,
        "created_at": created_at,
        "process_id": process_id,
        "spend_key_id": spend_key_id,
    }
    return row


def final_values(
    status: str,
    usage: Usage | None,
    priced: PricedRequest | None,
    metadata: dict[str, str],
    model: str | None,
) -> dict[str, Any]:
    """The columns a pending row gets when it is closed (settled: all; released: status)."""
    values: dict[str, Any] = {"status": status, "model": model, "request_metadata": metadata}
    if usage is not None:
        values.update(usage_columns(usage))
    if priced is not None:
        values.update(priced_columns(priced))
    return values


_NO_USAGE = Usage()
