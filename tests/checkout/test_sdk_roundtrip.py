"""The Python SDK (`lavapayments.AsyncLava`) against the server's checkout and subscription
routes: every answer parses into the SDK's models."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from lava_server.worker.runner import run_once
from lavapayments import AsyncLava, ConflictError
from tests.checkout.helpers import billing_of, secret_of, succeeded_charges
from tests.subscriptions.helpers import subscribe


async def test_sdk_round_trip(client, merchant):
    app = client._transport.app  # type: ignore[attr-defined]
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    lava = AsyncLava(merchant.secret_key, base_url="http://lava.test/v1/", http_client=http)
    config = await lava.subscriptions.create_config(
        name="Pro", period_amount="20", rollover_type="full"
    )
    assert config.subscription_config_id.startswith("sc_test_")
    updated = await lava.subscriptions.update_config(config.subscription_config_id, name="Pro 2")
    assert updated.name == "Pro 2"
    assert [c.subscription_config_id for c in await lava.subscriptions.list_configs()] == [
        config.subscription_config_id
    ]
    session = await lava.checkout_sessions.create(
        checkout_mode="subscription",
        origin_url="https://shop.example",
        subscription_config_id=config.subscription_config_id,
        reference_id="ref-1",
    )
    assert session.checkout_session_id.startswith("cs_test_")
    assert secret_of(session.model_dump()).startswith("css_test_")
    fetched = await lava.checkout_sessions.retrieve(session.checkout_session_id)
    assert fetched.reference_id == "ref-1" and fetched.completed_at is None
    page = await lava.checkout_sessions.list(reference_id="ref-1")
    assert [s.checkout_session_id for s in page.data] == [session.checkout_session_id]

    await subscribe(client, merchant.headers, config=config.model_dump())
    [active] = await lava.subscriptions.list_active_subscriptions()
    assert active.status == "active"
    assert Decimal(str(active.wallet.active_balance)) == Decimal(20)
    assert active.subscription_config.name == "Pro 2"
    cancelled = await lava.subscriptions.cancel_active_subscription(active.active_subscription_id)
    assert cancelled.success is True
    # The cancellation takes effect at the end of the cycle
    # (docs/checkout-and-wallets.md#subscriptions-and-period-credit); the plan is in use until then.
    with pytest.raises(ConflictError):
        await lava.subscriptions.delete_config(config.subscription_config_id)
    await run_once(billing_of(client), datetime.now(timezone.utc) + timedelta(days=32))
    deleted = await lava.subscriptions.delete_config(config.subscription_config_id)
    assert deleted.success is True
    assert len(succeeded_charges(billing_of(client).sandbox)) == 1
    await lava.close()


async def test_sdk_gets_live_mode_not_configured_at_once(client, live_merchant):
    """The SDK retries a 409 unless the server says not to: this one it must not retry."""
    app = client._transport.app  # type: ignore[attr-defined]
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), event_hooks={"request": [record]}
    )
    lava = AsyncLava(live_merchant.secret_key, base_url="http://lava.test/v1/", http_client=http)
    with pytest.raises(ConflictError) as refused:
        await lava.checkout_sessions.create(
            checkout_mode="onboarding", origin_url="https://shop.example"
        )
    assert refused.value.code == "live_mode_not_configured"
    assert "code sender" in refused.value.message
    assert len(sent) == 1
