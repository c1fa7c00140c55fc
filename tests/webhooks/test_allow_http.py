"""`LAVA_WEBHOOKS_ALLOW_HTTP=true`: sandbox endpoints may use http:// to loopback; live never."""

from __future__ import annotations

import pytest

from lava_server.settings import Settings
from tests.api.test_api_base import assert_error


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, webhooks_allow_http=True)


async def test_allow_http_is_for_sandbox_loopback_only(client, merchant, live_merchant):
    ok = await client.post(
        "/v1/webhooks",
        json={"name": "dev", "url": "http://127.0.0.1:9999/hook"},
        headers=merchant.headers,
    )
    assert ok.status_code == 201, ok.text
    for url in ("http://127.0.0.1:9999/hook", "https://127.0.0.1/hook"):
        live = await client.post(
            "/v1/webhooks", json={"name": "dev", "url": url}, headers=live_merchant.headers
        )
        assert_error(live, 400, "invalid_request", "url")
    public_http = await client.post(
        "/v1/webhooks", json={"name": "dev", "url": "http://example.com/"}, headers=merchant.headers
    )
    assert_error(public_http, 400, "invalid_request", "url")
