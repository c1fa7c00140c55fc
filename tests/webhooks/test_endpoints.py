"""`/v1/webhooks` CRUD in the official SDK's shapes, our extensions, and URL rules, on both
databases."""

from __future__ import annotations

import pytest

from tests.api.test_api_base import assert_error

URL = "https://hooks.example.com/lava"


async def test_create_shows_the_secret_once_then_crud(client, merchant):
    response = await client.post(
        "/v1/webhooks", json={"name": "Backend", "url": URL}, headers=merchant.headers
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["webhook_id"].startswith("wh_test_")
    assert created["webhook_secret"].startswith("whsec_test_")
    assert created["enabled_events"] == ["*"]
    assert created["event_names"] == "current"
    assert created["status"] == "enabled"
    assert created["created_at"].endswith("Z")
    webhook_id = created["webhook_id"]

    got = (await client.get(f"/v1/webhooks/{webhook_id}", headers=merchant.headers)).json()
    assert "webhook_secret" not in got
    assert got == {k: v for k, v in created.items() if k != "webhook_secret"}

    listed = (await client.get("/v1/webhooks", headers=merchant.headers)).json()
    assert [w["webhook_id"] for w in listed["data"]] == [webhook_id]
    assert listed["has_more"] is False

    patched = await client.patch(
        f"/v1/webhooks/{webhook_id}",
        json={
            "name": "Renamed",
            "enabled_events": ["customer.created", "checkout.completed"],
            "event_names": "legacy",
            "status": "disabled",
        },
        headers=merchant.headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "Renamed"
    assert body["url"] == URL
    assert body["enabled_events"] == ["checkout.completed", "customer.created"]
    assert body["event_names"] == "legacy"
    assert body["status"] == "disabled"

    rotated = (
        await client.post(f"/v1/webhooks/{webhook_id}/rotate", headers=merchant.headers)
    ).json()
    assert rotated["webhook_secret"] != created["webhook_secret"]

    deleted = await client.delete(f"/v1/webhooks/{webhook_id}", headers=merchant.headers)
    assert deleted.json() == {"id": webhook_id, "deleted": True}
    gone = await client.get(f"/v1/webhooks/{webhook_id}", headers=merchant.headers)
    assert_error(gone, 404, "not_found", "webhook_id")


async def test_sandbox_and_live_endpoints_are_apart(client, merchant, live_merchant):
    await client.post("/v1/webhooks", json={"name": "a", "url": URL}, headers=merchant.headers)
    live = await client.get("/v1/webhooks", headers=live_merchant.headers)
    assert live.json()["data"] == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"url": URL}, "name"),
        ({"name": "x"}, "url"),
        ({"name": "x", "url": "ftp://example.com/"}, "url"),
        ({"name": "x", "url": "http://example.com/hook"}, "url"),
        ({"name": "x", "url": "https://user:pw@example.com/"}, "url"),
        ({"name": "x", "url": "https://127.0.0.1/hook"}, "url"),
        ({"name": "x", "url": "https://10.0.0.7/hook"}, "url"),
        ({"name": "x", "url": "https://169.254.169.254/latest"}, "url"),
        ({"name": "x", "url": "https://[::1]/"}, "url"),
        ({"name": "x", "url": "https://0x7f.1/"}, "url"),
        ({"name": "x", "url": "https://localhost:8000/"}, "url"),
        ({"name": "x", "url": URL, "enabled_events": ["nope.happened"]}, "enabled_events"),
        ({"name": "x", "url": URL, "enabled_events": []}, "enabled_events"),
        ({"name": "x", "url": URL, "enabled_events": ["*", "ping"]}, "enabled_events"),
        ({"name": "x", "url": URL, "event_names": "old"}, "event_names"),
        ({"name": "x", "url": URL, "extra": 1}, "extra"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(client, merchant, body, param):
    response = await client.post("/v1/webhooks", json=body, headers=merchant.headers)
    error = assert_error(response, 400, "invalid_request")
    assert error["param"].startswith(param), error
