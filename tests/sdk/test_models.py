"""Response models: the seed's field names, Decimal money, datetime timestamps, extra fields."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from lavapayments.types import (
    RestActiveSubscription,
    RestCheckoutSession,
    RestConnection,
    RestRequest,
    RestSubscriptionConfig,
    RestUsage,
)

from . import payloads

MODELS: list[tuple[type[pydantic.BaseModel], dict[str, Any]]] = [
    (RestCheckoutSession, payloads.checkout_session()),
    (RestConnection, payloads.connection()),
    (RestRequest, payloads.request()),
    (RestUsage, payloads.usage()),
    (RestSubscriptionConfig, payloads.subscription_config()),
    (RestActiveSubscription, payloads.active_subscription()),
]


@pytest.mark.parametrize(("model", "wire"), MODELS)
def test_round_trip_to_the_wire_shape(
    model: type[pydantic.BaseModel], wire: dict[str, Any]
) -> None:
    parsed = model.model_validate(wire)
    assert parsed.model_dump(mode="json", exclude_unset=True) == wire


@pytest.mark.parametrize(("model", "wire"), MODELS)
def test_unknown_fields_are_kept(model: type[pydantic.BaseModel], wire: dict[str, Any]) -> None:
    parsed = model.model_validate({**wire, "added_later": {"x": 1}})
    assert parsed.added_later == {"x": 1}  # type: ignore[attr-defined]
    assert parsed.model_extra == {"added_later": {"x": 1}}


def test_money_is_exact_decimal() -> None:
    request = RestRequest.model_validate(payloads.request())
    assert request.total_request_cost == Decimal("0.0000445000")
    assert str(request.model_usage.input_cost) == "0.0000015000"  # the 10 places survive
    assert isinstance(request.fee.breakdown[0].tier.rate, Decimal)
    connection = RestConnection.model_validate(payloads.connection())
    assert connection.wallet.balance == Decimal("12.5")
    config = RestSubscriptionConfig.model_validate(payloads.subscription_config())
    assert isinstance(config.period_amount, Decimal)
    usage = RestUsage.model_validate(payloads.usage())
    assert isinstance(usage.totals.total_wallet_cost, Decimal)


def test_timestamps_are_aware_datetimes() -> None:
    session = RestCheckoutSession.model_validate(payloads.checkout_session())
    assert session.created_at == datetime(2025, 5, 1, 12, tzinfo=timezone.utc)
    usage = RestUsage.model_validate(payloads.usage())
    assert usage.items[0].date == date(2025, 5, 1)
    assert usage.items[0].start.tzinfo is not None


def test_optional_seed_fields_default_to_none() -> None:
    minimal = payloads.checkout_session()
    del minimal["reference_id"]
    session = RestCheckoutSession.model_validate(minimal)
    assert session.reference_id is None
    assert session.connection_id is None
    assert session.completed_at is None


def test_wrong_enum_value_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError):
        RestRequest.model_validate(payloads.request(status="teleported"))


def test_current_era_names_and_our_extensions_are_typed() -> None:
    request = RestRequest.model_validate(
        payloads.request(
            customer_id="con_1",
            meter_id="prd_1",
            cost="0.0014000000",
            charge={
                "amount": "0.0020000000",
                "rate_type": "fixed",
                "breakdown": [
                    {
                        "tier": {"start": 0, "rate": "2", "type": "tokens_1m"},
                        "tokens": 1000,
                        "characters": 0,
                        "seconds": 0,
                        "cost": "0.0020000000",
                    }
                ],
            },
        )
    )
    assert request.cost == Decimal("0.0014") and request.customer_id == "con_1"
    assert request.charge is not None and request.charge.amount == Decimal("0.002")
    assert request.charge.breakdown[0].tier.rate == Decimal("2")
    usage = RestUsage.model_validate(
        {**payloads.usage(), "totals": {**payloads.usage_totals(), "total_charge": "1.50"}}
    )
    assert usage.totals.total_charge == Decimal("1.50") and usage.totals.total_cost is None
    session = RestCheckoutSession.model_validate(
        payloads.checkout_session(expires_at="2025-05-01T13:00:00.000Z")
    )
    assert session.expires_at == datetime(2025, 5, 1, 13, tzinfo=timezone.utc)
    subscription = RestActiveSubscription.model_validate(
        payloads.active_subscription(
            current_period_start="2025-05-01T00:00:00.000Z",
            current_period_end="2025-06-01T00:00:00.000Z",
        )
    )
    assert isinstance(subscription.current_period_end, datetime)
    assert subscription.current_period_end.tzinfo is not None
