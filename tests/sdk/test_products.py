"""``lava.products`` (our extension) against our own server over real HTTP, on SQLite and
PostgreSQL, sync and async: typed answers, every page walked, the same objects as meters."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from lavapayments import BadRequestError, ConflictError, NotFoundError
from lavapayments.types import RestProduct, SuccessResponse

from .conftest import call, collect
from .live import base_url, lava

__all__ = ["base_url", "lava"]


async def test_products_crud(lava) -> None:
    made = await call(
        lava.products.create(
            name="SDK Chat",
            tiers=[
                {"start": 0, "rate": Decimal("2.0000000001"), "type": "tokens_1m"},
                {"start": 10_000_000, "rate": "1", "type": "tokens_1m"},
            ],
            overdraft="allow",
        )
    )
    assert isinstance(made, RestProduct)
    assert made.product_id.startswith("prd_test_") and made.product_secret.startswith("ps_test_")
    assert made.tiers[0].rate == Decimal("2.0000000001")  # exact, never a float
    assert made.tiers[1].start == 10_000_000 and made.tiers[1].type == "tokens_1m"
    assert (made.rate_type, made.token_basis, made.overdraft) == ("fixed", "input+output", "allow")
    assert (made.base_cost_payer, made.service_charge_payer) == ("wallet", "wallet")
    assert made.meter_slug == "sdk-chat"
    assert isinstance(made.created_at, datetime) and made.created_at.tzinfo is not None

    got = await call(lava.products.retrieve(made.product_id))
    assert got == made
    meter = await call(lava.meters.retrieve(made.product_id))  # the same object
    assert meter.meter_slug == made.meter_slug

    changed = await call(
        lava.products.update(
            made.product_id, name="Renamed", tiers=[{"start": 0, "rate": "3", "type": "requests"}]
        )
    )
    assert changed.name == "Renamed" and changed.tiers[0].rate == Decimal("3")
    assert changed.overdraft == "allow"  # not given: stays
    assert changed.updated_at >= made.updated_at

    other = await call(
        lava.products.create(
            name="Other", meter_slug="taken", tiers=[{"start": 0, "rate": "1", "type": "requests"}]
        )
    )
    with pytest.raises(ConflictError):
        await call(lava.products.update(made.product_id, meter_slug="taken"))
    ids = [p.product_id for p in await collect(lava.products.list(limit=1))]
    assert ids == [other.product_id, made.product_id]  # newest first, every page walked

    with pytest.raises(BadRequestError) as bad:
        await call(
            lava.products.create(name="x", tiers=[{"start": 0, "rate": "-1", "type": "requests"}])
        )
    assert bad.value.param is not None

    gone = await call(lava.products.delete(made.product_id))
    assert isinstance(gone, SuccessResponse) and gone.success
    with pytest.raises(NotFoundError):
        await call(lava.products.retrieve(made.product_id))
