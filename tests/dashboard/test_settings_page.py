"""The Settings page over HTTP, on SQLite and PostgreSQL: the merchant's name, the server's
service charge and low-balance threshold, and each mode's providers with what live mode lacks,
read from the configuration (no provider is called); the same for a viewer, with nothing to
change."""

from __future__ import annotations

import pytest

from lava_server.settings import Settings
from tests.dashboard.conftest import signed_in


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        service_charge_rate="0.025",
        webhook_low_balance_threshold="2.50",
        code_sender_sandbox="log",
    )


@pytest.mark.parametrize("mode", ["test", "live"])
async def test_the_settings_of_the_merchant_and_the_server(client, merchant, admin, mode):
    await signed_in(client, admin)
    page = await client.get(f"/dashboard/{mode}/settings")
    assert page.status_code == 200
    assert '<dd id="merchant-name">Test merchant</dd>' in page.text
    assert merchant.merchant_id in page.text
    assert '<dd id="service-charge">2.5 % of each fee</dd>' in page.text
    assert '<dd id="low-balance">$2.50</dd>' in page.text
    assert "http://lava.test/v1/" in page.text
    # Sandbox: the sandbox provider and the log sender, ready; live: nothing, and what it needs.
    test_row = page.text.split('id="providers-test"')[1].split("</tr>")[0]
    assert "sandbox" in test_row and "log" in test_row and ">ready<" in test_row
    live_row = page.text.split('id="providers-live"')[1].split("</tr>")[0]
    assert ">not ready<" in live_row
    assert "LAVA_PAYMENT_PROVIDER is sandbox" in live_row
    assert "LAVA_CODE_SENDER_LIVE is empty" in live_row
    assert "<form" not in page.text.split('id="main"')[1]  # nothing to change here


async def test_live_mode_configured_is_shown_ready(database_url, tmp_path):
    """With Stripe's live key and a live code sender, the live row says ready, and the page
    asked Stripe nothing (its API base points nowhere reachable)."""
    import httpx

    from lava_server.app import create_app
    from lava_server.db.engine import Database
    from lava_server.merchants import service as merchants
    from tests.dashboard.conftest import make_user

    settings = Settings(
        database_url=database_url,
        payment_provider="stripe",
        stripe_secret_key="sk_live_" + "x" * 24,
        stripe_publishable_key="pk_live_" + "x" * 24,
        stripe_webhook_secret="whsec_" + "x" * 24,
        stripe_api_base="http://127.0.0.1:9",
        code_sender_live="smtp",
        smtp_url="smtp://127.0.0.1:9",
        smtp_from="codes@shop.example",
    )
    db = Database(settings.database_url, pool_size=2)
    try:
        key = await merchants.create_merchant(db, "Live shop", livemode=True)
        user = await make_user(db, settings, key.merchant_id, "own@example.com", "viewer")
        app = create_app(settings, db)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lava.test") as client:
            await signed_in(client, user)
            page = await client.get("/dashboard/live/settings")
    finally:
        await db.dispose()
    assert page.status_code == 200
    live_row = page.text.split('id="providers-live"')[1].split("</tr>")[0]
    assert "stripe" in live_row and "live key" in live_row and "smtp" in live_row
    assert ">ready<" in live_row
