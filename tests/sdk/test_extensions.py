"""Sending an explicit JSON ``null`` (``None``) apart from leaving a field out (``NOT_GIVEN``),
and our extension fields typed like the rest (times as ``datetime``, money as ``Decimal``),
against our own server over real HTTP, on SQLite and PostgreSQL, sync and async."""

from __future__ import annotations

import json
from datetime import datetime

from lavapayments import NOT_GIVEN
from lavapayments._types import build_options

from .conftest import call
from .live import base_url, lava

__all__ = ["base_url", "lava"]


async def test_none_clears_and_not_given_keeps(lava) -> None:
    made = await call(
        lava.customers.create(name="Ada Lovelace", email="ada@example.com", metadata={"k": 1})
    )
    cleared = await call(lava.customers.update(made.customer_id, name=None, email=NOT_GIVEN))
    assert (cleared.contact.first_name, cleared.contact.last_name) == ("", "")
    assert cleared.contact.email == "ada@example.com"  # NOT_GIVEN: left out, kept
    assert cleared.metadata == {"k": 1}  # not passed at all: kept
    again = await call(lava.customers.retrieve(made.customer_id))
    assert again.contact.first_name == "" and again.contact.email == "ada@example.com"


async def test_not_given_is_never_sent() -> None:
    options = build_options(
        "PATCH",
        "x",
        query={"a": NOT_GIVEN, "b": None, "c": 1},  # type: ignore[dict-item]
        body={"name": None, "email": NOT_GIVEN},
        extra_body={"metadata": NOT_GIVEN},
        keep_null=True,
    )
    assert dict(options.query) == {"c": 1}
    assert json.dumps(options.json_data) == '{"name": null}'


async def test_extension_fields_are_typed(lava) -> None:
    meter = await call(
        lava.meters.create(
            name="Typed",
            rate_type="fixed",
            tier_type="requests",
            tiers=[{"start": 0, "rate": "1"}],
        )
    )
    assert isinstance(meter.updated_at, datetime) and meter.updated_at.tzinfo is not None
    assert isinstance(meter.model_extra["product_secret"], str)  # not money or time: as sent
    session = await call(
        lava.checkout_sessions.create(checkout_mode="onboarding", origin_url="https://a.example")
    )
    assert isinstance(session.expires_at, datetime) and session.expires_at > session.created_at
