"""Every seed method on both clients against a backend (see conftest): the API contract only."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from lavapayments import (
    AsyncLava,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    Lava,
    NotFoundError,
)
from lavapayments.types import (
    RestActiveSubscription,
    RestCheckoutSession,
    RestConnection,
    RestRequest,
    RestSubscriptionConfig,
    RestUsage,
    SuccessResponse,
)

from .conftest import Backend, call, collect, collect_pages

Client = Lava | AsyncLava
ORIGIN = "https://app.example.com"


async def new_usage(
    lava: Client, backend: Backend, *, request_id: str, tokens: int = 100, **extra: object
) -> RestRequest:
    _, connection_secret = await backend.create_connection()
    _, product_secret = await backend.create_product()
    return await call(
        lava.requests.create(
            request_id=request_id,
            connection_secret=connection_secret,
            product_secret=product_secret,
            input_tokens=tokens,
            output_tokens=tokens,
            **extra,
        )
    )


# -- checkout sessions -----------------------------------------------------------------------


async def test_checkout_session_create_retrieve_list(lava: Client, tag: str) -> None:
    created = await call(
        lava.checkout_sessions.create(
            checkout_mode="onboarding", origin_url=ORIGIN, reference_id=f"user_{tag}"
        )
    )
    assert isinstance(created, RestCheckoutSession)
    assert created.checkout_mode == "onboarding"
    assert created.origin_url == ORIGIN
    assert created.reference_id == f"user_{tag}"
    assert created.checkout_session_token
    assert created.created_at.tzinfo is not None
    assert created.completed_at is None

    retrieved = await call(lava.checkout_sessions.retrieve(created.checkout_session_id))
    assert retrieved.checkout_session_id == created.checkout_session_id
    assert retrieved.checkout_session_token == created.checkout_session_token

    listed = await collect(lava.checkout_sessions.list(reference_id=f"user_{tag}"))
    assert [s.checkout_session_id for s in listed] == [created.checkout_session_id]


async def test_checkout_session_topup_needs_a_connection(lava: Client, backend: Backend) -> None:
    with pytest.raises(BadRequestError) as caught:
        await call(lava.checkout_sessions.create(checkout_mode="topup", origin_url=ORIGIN))
    assert caught.value.status_code == 400
    assert caught.value.code == "invalid_request"

    connection_id, _ = await backend.create_connection()
    topup = await call(
        lava.checkout_sessions.create(
            checkout_mode="topup", origin_url=ORIGIN, connection_id=connection_id
        )
    )
    assert topup.connection_id == connection_id


async def test_checkout_session_subscription_mode(lava: Client) -> None:
    config = await call(
        lava.subscriptions.create_config(name="Basic", period_amount="10", rollover_type="none")
    )
    session = await call(
        lava.checkout_sessions.create(
            checkout_mode="subscription",
            origin_url=ORIGIN,
            subscription_config_id=config.subscription_config_id,
        )
    )
    assert session.checkout_mode == "subscription"
    assert session.subscription_config_id == config.subscription_config_id


async def test_checkout_session_unknown_id(lava: Client) -> None:
    with pytest.raises(NotFoundError) as caught:
        await call(lava.checkout_sessions.retrieve("cs_test_01UNKNOWN"))
    assert caught.value.status_code == 404
    assert caught.value.code == "not_found"
    assert caught.value.request_id


# -- connections -----------------------------------------------------------------------------


async def test_connections_paginate_across_pages(lava: Client, backend: Backend, tag: str) -> None:
    ids = [(await backend.create_connection(reference_id=tag))[0] for _ in range(5)]

    first = await call(lava.connections.list(limit=2, reference_id=tag))
    assert len(first.data) == 2
    assert first.has_more is True
    assert first.next_cursor

    everything = await collect(lava.connections.list(limit=2, reference_id=tag))
    assert [c.connection_id for c in everything] == list(reversed(ids))  # newest first

    pages = await collect_pages(lava.connections.list(limit=2, reference_id=tag))
    assert [len(p.data) for p in pages] == [2, 2, 1]
    assert pages[-1].has_more is False
    assert pages[-1].next_cursor is None


async def test_connection_retrieve_and_delete(lava: Client, backend: Backend, tag: str) -> None:
    connection_id, secret = await backend.create_connection(reference_id=f"user_{tag}")
    connection = await call(lava.connections.retrieve(connection_id))
    assert isinstance(connection, RestConnection)
    assert connection.connection_secret == secret
    assert connection.reference_id == f"user_{tag}"
    assert isinstance(connection.wallet.balance, Decimal)
    assert connection.next_usage_reset > connection.previous_usage_reset

    deleted = await call(lava.connections.delete(connection_id))
    assert deleted == SuccessResponse(success=True)

    _, product_secret = await backend.create_product()
    with pytest.raises(AuthenticationError):
        await call(
            lava.requests.create(
                request_id=f"after_delete_{tag}",
                connection_secret=secret,
                product_secret=product_secret,
            )
        )


async def test_connections_bad_limit_is_400(lava: Client, sleeps: list[float]) -> None:
    with pytest.raises(BadRequestError) as caught:
        await call(lava.connections.list(limit=1000))
    assert caught.value.status_code == 400
    assert sleeps == []  # a 400 is never retried


# -- requests --------------------------------------------------------------------------------


async def test_request_create_and_retrieve(lava: Client, backend: Backend, tag: str) -> None:
    created = await new_usage(lava, backend, request_id=f"usage_{tag}", metadata={"user_id": "u1"})
    assert isinstance(created, RestRequest)
    assert created.request_id == f"usage_{tag}"
    assert created.status == "completed"
    assert created.model_usage.input_tokens == 100
    assert created.model_usage.total_tokens == 200
    assert created.metadata == {"user_id": "u1"}
    assert isinstance(created.total_request_cost, Decimal)
    assert created.total_request_cost == (
        created.model_usage.total_cost + created.fee.amount + created.service_charge.amount
    )

    retrieved = await call(lava.requests.retrieve(f"usage_{tag}"))
    assert retrieved.model_dump() == created.model_dump()


async def test_request_create_is_idempotent_on_request_id(
    lava: Client, backend: Backend, tag: str
) -> None:
    _, connection_secret = await backend.create_connection()
    _, product_secret = await backend.create_product()
    arguments = {
        "request_id": f"twice_{tag}",
        "connection_secret": connection_secret,
        "product_secret": product_secret,
        "input_tokens": 5,
    }
    first = await call(lava.requests.create(**arguments))
    again = await call(lava.requests.create(**arguments))
    assert again.model_dump() == first.model_dump()

    with pytest.raises(ConflictError) as caught:
        await call(lava.requests.create(**{**arguments, "input_tokens": 6}))
    assert caught.value.status_code == 409


async def test_request_unknown_product_secret(lava: Client, backend: Backend, tag: str) -> None:
    _, connection_secret = await backend.create_connection()
    with pytest.raises(NotFoundError):
        await call(
            lava.requests.create(
                request_id=f"no_product_{tag}",
                connection_secret=connection_secret,
                product_secret="ps_test_unknown",
            )
        )


async def test_requests_list_filters_and_pages(lava: Client, backend: Backend, tag: str) -> None:
    for n in range(3):
        await new_usage(lava, backend, request_id=f"chat_{n}_{tag}", metadata={"feature": tag})
    other = await new_usage(lava, backend, request_id=f"other_{tag}", metadata={"other": tag})

    tagged = await collect(lava.requests.list(limit=2, metadata_filters={"feature": tag}))
    assert [r.request_id for r in tagged] == [f"chat_{n}_{tag}" for n in (2, 1, 0)]

    pairs = await collect(lava.requests.list(metadata_filters=[("other", tag)]))
    assert [r.request_id for r in pairs] == [f"other_{tag}"]

    by_connection = await collect(lava.requests.list(connection_id=other.connection_id))
    assert [r.request_id for r in by_connection] == [f"other_{tag}"]


# -- usage -----------------------------------------------------------------------------------


async def test_usage_daily_items_and_totals(lava: Client, backend: Backend, tag: str) -> None:
    counted = await new_usage(lava, backend, request_id=f"in_{tag}", tokens=50, metadata={"t": tag})
    await new_usage(lava, backend, request_id=f"out_{tag}", tokens=7, metadata={"t": "other"})
    now = datetime.now(timezone.utc)
    start = (now - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)

    usage = await call(lava.usage.retrieve(start=start, metadata_filters={"t": tag}))
    assert isinstance(usage, RestUsage)
    assert len(usage.items) == 3  # two days before today, and today
    assert [item.date for item in usage.items] == [
        (start + timedelta(days=n)).date() for n in range(3)
    ]
    assert usage.totals.total_requests == 1
    assert usage.totals.total_usage_tokens == 100
    assert usage.totals.total_request_cost == sum(
        (item.total_request_cost for item in usage.items), Decimal(0)
    )

    one_connection = await call(
        lava.usage.retrieve(
            start=start.isoformat(),
            end=datetime.now(timezone.utc),
            connection_id=counted.connection_id,
        )
    )
    assert one_connection.totals.total_requests == 1


async def test_usage_end_before_start_is_400(lava: Client) -> None:
    with pytest.raises(BadRequestError):
        await call(lava.usage.retrieve(start="2025-05-02T00:00:00Z", end="2025-05-01T00:00:00Z"))


# -- subscriptions ---------------------------------------------------------------------------


async def test_subscription_configs_lifecycle(lava: Client) -> None:
    created = await call(
        lava.subscriptions.create_config(
            name="Pro", period_amount=Decimal("25.50"), rollover_type="full"
        )
    )
    assert isinstance(created, RestSubscriptionConfig)
    assert created.name == "Pro"
    assert created.period_amount == Decimal("25.50")
    assert created.rollover_type == "full"

    configs = await call(lava.subscriptions.list_configs())
    assert created.subscription_config_id in [c.subscription_config_id for c in configs]

    updated = await call(
        lava.subscriptions.update_config(created.subscription_config_id, name="Pro+")
    )
    assert updated.name == "Pro+"
    assert updated.period_amount == Decimal("25.50")  # untouched fields stay

    deleted = await call(lava.subscriptions.delete_config(created.subscription_config_id))
    assert deleted.success is True
    configs = await call(lava.subscriptions.list_configs())
    assert created.subscription_config_id not in [c.subscription_config_id for c in configs]


async def test_active_subscriptions_list_and_cancel(lava: Client, backend: Backend) -> None:
    config = await call(
        lava.subscriptions.create_config(name="Team", period_amount="100", rollover_type="none")
    )
    connection_id, _ = await backend.create_connection()
    subscription_id = await backend.create_active_subscription(
        config.subscription_config_id, connection_id
    )

    active = await call(lava.subscriptions.list_active_subscriptions())
    mine = next(s for s in active if s.active_subscription_id == subscription_id)
    assert isinstance(mine, RestActiveSubscription)
    assert mine.status == "active"
    assert mine.subscription_config.subscription_config_id == config.subscription_config_id
    assert isinstance(mine.wallet.active_balance, Decimal)

    with pytest.raises(ConflictError):  # a config in use cannot be deleted
        await call(lava.subscriptions.delete_config(config.subscription_config_id))

    assert (await call(lava.subscriptions.cancel_active_subscription(subscription_id))).success
    assert (await call(lava.subscriptions.cancel_active_subscription(subscription_id))).success
    # The cancellation takes effect at the end of the cycle (docs/current-api.md#subscriptions):
    # until then the subscription is still active.
    active = await call(lava.subscriptions.list_active_subscriptions())
    pending = next(s for s in active if s.active_subscription_id == subscription_id)
    assert pending.status == "active"
    assert pending.cancelled_at is None

    with pytest.raises(NotFoundError):
        await call(lava.subscriptions.cancel_active_subscription("as_test_01UNKNOWN"))


# -- generic request and auth -----------------------------------------------------------------


async def test_generic_request_returns_json(lava: Client) -> None:
    created = await call(
        lava.request(
            "POST",
            "subscription-configs",
            data={"name": "Raw", "period_amount": "1", "rollover_type": "full"},
        )
    )
    assert isinstance(created, dict)
    assert created["name"] == "Raw"
    listed = await call(lava.request("GET", "subscription-configs"))
    assert any(c["subscription_config_id"] == created["subscription_config_id"] for c in listed)


async def test_unknown_secret_key_is_401(lava: Client) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await call(lava.with_options(secret_key="aks_test_wrong").connections.list())
    assert caught.value.status_code == 401
    assert "aks_test_wrong" not in str(caught.value)
