"""``lava.spend_keys`` of ``Lava`` and ``AsyncLava`` against our own server over real HTTP, on
SQLite and PostgreSQL (`docs/current-api.md#spend-keys`): typed answers (``Decimal`` money,
``datetime`` times), partial updates where ``None`` clears, revoke, rotate, the customer
binding, and the raw-response wrappers."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from lavapayments import BadRequestError, NotFoundError
from lavapayments.types import (
    RestSpendKey,
    RestSpendKeyCreated,
    SpendKeySpendLimit,
    SuccessResponse,
)

from .conftest import call, collect
from .live import base_url, lava  # noqa: F401 - the fixtures

EXPIRES = datetime(2031, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


async def test_every_method(lava) -> None:  # noqa: F811
    made = await call(
        lava.spend_keys.create(
            name="agent",
            request_shape="anthropic",
            allowed_models=["claude-3-5-haiku"],
            spend_limit={"amount": Decimal("0.05"), "cycle": "daily"},
            request_limit={"count": 200, "cycle": "weekly"},
            rate_limit={"rpm": 60, "burst": 10},
            expires_at=EXPIRES,
        )
    )
    assert isinstance(made, RestSpendKeyCreated)
    assert made.key.startswith("lava_sk_") and made.key_preview == made.key[:16] + "****"
    assert made.spend_limit == SpendKeySpendLimit(amount=Decimal("0.05"), cycle="daily")
    assert isinstance(made.current_spend, Decimal) and made.current_spend == 0
    assert made.total_requests == 0 and made.last_used_at is None
    assert made.expires_at == EXPIRES and made.created_at.tzinfo is not None
    assert made.request_limit is not None and made.request_limit.count == 200
    assert made.rate_limit is not None and made.rate_limit.burst == 10

    plain = await call(lava.spend_keys.create(name="plain"))
    listed = await collect(lava.spend_keys.list(limit=1))  # every page walked
    assert [k.spend_key_id for k in listed] == [plain.spend_key_id, made.spend_key_id]
    assert all(isinstance(k, RestSpendKey) and "key" not in (k.model_extra or {}) for k in listed)

    got = await call(lava.spend_keys.retrieve(made.spend_key_id))
    assert got == RestSpendKey.model_validate(made.model_dump(exclude={"key"}))

    updated = await call(
        lava.spend_keys.update(
            made.spend_key_id, status="paused", spend_limit=None, allowed_models=None
        )
    )
    assert updated.status == "paused" and updated.spend_limit is None
    assert updated.allowed_models is None
    assert updated.request_limit == made.request_limit  # not given: stays
    assert updated.expires_at == EXPIRES
    cleared = await call(lava.spend_keys.update(made.spend_key_id, expires_at=None))
    assert cleared.expires_at is None and cleared.status == "paused"
    with pytest.raises(BadRequestError) as bad:
        await call(lava.spend_keys.update(made.spend_key_id, rate_limit={"rpm": 0}))
    assert bad.value.param is not None and bad.value.param.startswith("rate_limit")

    rotated = await call(lava.spend_keys.rotate(made.spend_key_id))
    assert isinstance(rotated, RestSpendKeyCreated) and rotated.key != made.key
    assert rotated.spend_key_id == made.spend_key_id and rotated.status == "paused"

    revoked = await call(lava.spend_keys.revoke(plain.spend_key_id))
    assert isinstance(revoked, SuccessResponse) and revoked.success
    with pytest.raises(NotFoundError):
        await call(lava.spend_keys.retrieve(plain.spend_key_id))


async def test_a_key_for_a_customer_and_the_raw_response(lava) -> None:  # noqa: F811
    customer = await call(lava.customers.create(reference_id="sk-user"))
    meter = await call(
        lava.meters.create(
            name="Chat", rate_type="fixed", tier_type="requests", tiers=[{"start": 0, "rate": "1"}]
        )
    )
    made = await call(
        lava.spend_keys.create(name="user", customer_id="sk-user", meter_slug=meter.meter_slug)
    )
    assert made.customer_id == customer.customer_id and made.meter_id == meter.meter_id
    with pytest.raises(BadRequestError) as bad:
        await call(lava.spend_keys.create(name="x", customer_id="sk-user"))
    assert bad.value.param == "meter_slug"

    raw = await call(lava.spend_keys.with_raw_response.retrieve(made.spend_key_id))
    assert raw.status_code == 200 and raw.headers["x-lava-request-id"].startswith("req_")
    parsed = raw.parse()
    if not isinstance(parsed, RestSpendKey):
        parsed = await parsed
    assert parsed.spend_key_id == made.spend_key_id
    listed = await call(lava.with_raw_response.spend_keys.list())
    assert listed.status_code == 200
