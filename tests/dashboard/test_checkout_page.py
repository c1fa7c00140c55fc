"""The Checkout page over HTTP, on SQLite and PostgreSQL: recent sessions and their state, the
"try checkout" form through the API's service (its hosted page opened; live mode without live
providers shows the 409's message), a viewer and a forged form refused on the server."""

from __future__ import annotations

import html

from lava_server.api.auth import Caller
from lava_server.checkout import service as checkout
from tests.dashboard.conftest import signed_in


async def _sessions(client, merchant) -> list[dict]:
    found = await client.get("/v1/checkout_sessions", headers=merchant.headers)
    assert found.status_code == 200
    return found.json()["data"]


async def _live_sessions(db, merchant) -> int:
    caller = Caller(merchant_id=merchant.merchant_id, livemode=True, key_id="test")
    return len(await checkout.list_page(db, caller, None, 100, None))


async def test_the_empty_page_shows_a_snippet_with_the_real_base_url(client, merchant, admin):
    await signed_in(client, admin)
    page = await client.get("/dashboard/test/checkout")
    assert page.status_code == 200
    assert "No checkout sessions yet" in page.text
    assert "curl http://lava.test/v1/checkout_sessions" in page.text
    assert 'id="try-title"' in page.text
    assert 'href="/dashboard/test/checkout" aria-current="page"' in page.text  # in the nav


async def test_sessions_are_listed_with_their_state(client, merchant, admin):
    made = await client.post(
        "/v1/checkout_sessions",
        headers=merchant.headers,
        json={
            "checkout_mode": "onboarding",
            "origin_url": "https://shop.example",
            "reference_id": "order-42",
        },
    )
    assert made.status_code == 201, made.text
    session_id = made.json()["checkout_session_id"]
    await signed_in(client, admin)
    page = await client.get("/dashboard/test/checkout")
    assert session_id in page.text
    assert "order-42" in page.text
    assert ">open<" in page.text
    assert made.json()["checkout_session_token"] not in page.text  # no secret on the page
    live = await client.get("/dashboard/live/checkout")
    assert session_id not in live.text
    assert "No checkout sessions yet" in live.text
    assert (await client.get("/dashboard/test/checkout?cursor=bogus")).status_code == 400


async def test_trying_checkout_creates_a_session_and_opens_its_hosted_page(client, merchant, admin):
    csrf = await signed_in(client, admin)
    tried = await client.post(
        "/dashboard/test/checkout/try",
        data={"csrf_token": csrf, "checkout_mode": "onboarding", "reference_id": "try-1"},
    )
    assert tried.status_code == 303, tried.text
    location = tried.headers["location"]
    assert location.startswith("/embed/checkout/css_test_")
    sessions = await _sessions(client, merchant)
    assert [s["reference_id"] for s in sessions] == ["try-1"]
    assert sessions[0]["origin_url"] == "http://lava.test"
    hosted = await client.get(location)
    assert hosted.status_code == 200
    listed = await client.get("/dashboard/test/checkout")
    assert sessions[0]["checkout_session_id"] in listed.text


async def test_a_refusal_of_the_api_is_shown_by_the_form(client, merchant, admin):
    csrf = await signed_in(client, admin)
    refused = await client.post(
        "/dashboard/test/checkout/try",
        data={"csrf_token": csrf, "checkout_mode": "topup"},
    )
    api = await client.post(
        "/v1/checkout_sessions",
        headers=merchant.headers,
        json={"checkout_mode": "topup", "origin_url": "http://lava.test"},
    )
    assert refused.status_code == api.status_code == 400
    assert html.escape(api.json()["error"]["message"], quote=False) in refused.text
    assert 'id="try-error"' in refused.text
    assert await _sessions(client, merchant) == []


async def test_live_mode_without_live_providers_shows_the_409_plainly(client, db, merchant, admin):
    csrf = await signed_in(client, admin)
    page = await client.get("/dashboard/live/checkout")
    assert 'id="live-not-configured"' in page.text
    assert "LAVA_CODE_SENDER_LIVE" in page.text
    refused = await client.post(
        "/dashboard/live/checkout/try",
        data={"csrf_token": csrf, "checkout_mode": "onboarding"},
    )
    assert refused.status_code == 409
    assert "Live mode is not configured on this server" in refused.text
    assert 'id="try-error"' in refused.text
    assert await _live_sessions(db, merchant) == 0


async def test_a_viewer_sees_sessions_but_cannot_try_checkout(client, merchant, viewer):
    csrf = await signed_in(client, viewer)
    page = await client.get("/dashboard/test/checkout")
    assert page.status_code == 200
    assert "Try checkout" not in page.text
    refused = await client.post(
        "/dashboard/test/checkout/try", data={"csrf_token": csrf, "checkout_mode": "onboarding"}
    )
    assert refused.status_code == 403
    assert "viewer" in refused.text
    assert await _sessions(client, merchant) == []


async def test_a_form_without_its_csrf_token_is_refused(client, merchant, admin):
    await signed_in(client, admin)
    forged = await client.post("/dashboard/test/checkout/try", data={"checkout_mode": "onboarding"})
    assert forged.status_code == 403
    assert await _sessions(client, merchant) == []
