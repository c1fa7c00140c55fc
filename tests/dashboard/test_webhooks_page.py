"""The Webhooks pages over HTTP, on SQLite and PostgreSQL, with a real receiver on a loopback
port: an endpoint added through the page (its signing secret shown once, and it verifies what
the receiver gets), a test event sent, its delivery shown with the receiver's status and answer,
resent, the endpoint disabled and enabled; the API's refusals by the form; a viewer and a
forged form refused on the server, changing nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from markupsafe import escape

from lava_server.settings import Settings
from lava_server.testing import ServerThread, serve_in_thread
from lava_server.webhooks.worker import Deliverer
from tests.dashboard.conftest import signed_in
from tests.webhooks.receiver import Receiver

_SECRET = re.compile(r'<pre id="new-secret"><code>([^<]+)</code>')


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, webhooks_allow_http=True)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(answer=lambda n: 500 if n == 1 else 200)


@pytest.fixture
def receiver_server(receiver: Receiver) -> Iterator[ServerThread]:
    with serve_in_thread(receiver.app()) as server:
        yield server


async def _webhooks(client, merchant) -> list[dict]:
    listed = await client.get("/v1/webhooks", headers=merchant.headers)
    assert listed.status_code == 200
    return listed.json()["data"]


async def _deliveries(client, merchant, webhook_id: str) -> list[dict]:
    listed = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=merchant.headers)
    assert listed.status_code == 200
    return listed.json()["data"]


async def _deliver(db, settings) -> None:
    deliverer = Deliverer(db, settings)
    try:
        await deliverer.run_once()
    finally:
        await deliverer.stop()


async def test_adding_an_endpoint_shows_its_secret_once_and_resending_a_delivery(
    client, db, settings, merchant, admin, receiver, receiver_server, caplog
):
    csrf = await signed_in(client, admin)
    empty = await client.get("/dashboard/test/webhooks")
    assert "No webhook endpoints yet" in empty.text
    assert "curl http://lava.test/v1/webhooks" in empty.text
    added = await client.post(
        "/dashboard/test/webhooks",
        data={
            "csrf_token": csrf,
            "name": "shop",
            "url": f"{receiver_server.url}/hook/shop",
            "enabled_events": "",
            "event_names": "current",
        },
    )
    assert added.status_code == 200, added.text
    assert added.headers["cache-control"] == "no-store"
    found = _SECRET.search(added.text)
    assert found and found.group(1).startswith("whsec_test_")
    secret = found.group(1)
    receiver.secrets["shop"] = secret
    [endpoint] = await _webhooks(client, merchant)
    webhook_id = endpoint["webhook_id"]
    assert endpoint["enabled_events"] == ["*"]
    listed = await client.get("/dashboard/test/webhooks")
    assert webhook_id in listed.text and secret not in listed.text
    page = await client.get(f"/dashboard/test/webhooks/{webhook_id}")
    assert page.status_code == 200 and secret not in page.text
    assert "No deliveries yet" in page.text

    tested = await client.post(
        f"/dashboard/test/webhooks/{webhook_id}/test", data={"csrf_token": csrf}
    )
    assert tested.status_code == 303
    [delivery] = await _deliveries(client, merchant, webhook_id)
    assert delivery["event_type"] == "ping"
    await _deliver(db, settings)  # the receiver answers 500 the first time
    page = await client.get(f"/dashboard/test/webhooks/{webhook_id}")
    assert "HTTP 500" in page.text
    assert "ok ok" in page.text  # the receiver's answer
    resent = await client.post(
        f"/dashboard/test/webhooks/{webhook_id}/deliveries/{delivery['delivery_id']}/resend",
        data={"csrf_token": csrf},
    )
    assert resent.status_code == 303
    after = await client.get(resent.headers["location"])
    assert f"Delivery {delivery['delivery_id']} is sent again now." in after.text
    await _deliver(db, settings)
    [delivery] = await _deliveries(client, merchant, webhook_id)
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
    page = await client.get(f"/dashboard/test/webhooks/{webhook_id}")
    assert "HTTP 200" in page.text and ">delivered<" in page.text
    # The secret shown on the page signs what the receiver got.
    assert [event["type"] for event in receiver.events("shop")] == ["ping"]
    assert len(receiver.received) == 2
    assert secret not in caplog.text
    # Another mode's page does not show the endpoint.
    live = await client.get("/dashboard/live/webhooks")
    assert webhook_id not in live.text
    assert (await client.get(f"/dashboard/live/webhooks/{webhook_id}")).status_code == 404


async def test_disabling_and_enabling_an_endpoint(client, merchant, admin):
    csrf = await signed_in(client, admin)
    made = await client.post(
        "/v1/webhooks",
        headers=merchant.headers,
        json={"name": "a", "url": "https://hooks.example/lava"},
    )
    webhook_id = made.json()["webhook_id"]
    disabled = await client.post(
        f"/dashboard/test/webhooks/{webhook_id}/status",
        data={"csrf_token": csrf, "status": "disabled"},
    )
    assert disabled.status_code == 303
    assert (await _webhooks(client, merchant))[0]["status"] == "disabled"
    page = await client.get(disabled.headers["location"])
    assert "Endpoint disabled" in page.text
    assert ">Enable</button>" in page.text
    enabled = await client.post(
        f"/dashboard/test/webhooks/{webhook_id}/status",
        data={"csrf_token": csrf, "status": "enabled"},
    )
    assert enabled.status_code == 303
    assert (await _webhooks(client, merchant))[0]["status"] == "enabled"
    nonsense = await client.post(
        f"/dashboard/test/webhooks/{webhook_id}/status",
        data={"csrf_token": csrf, "status": "maybe"},
    )
    assert nonsense.status_code == 400
    assert 'id="status-error"' in nonsense.text
    missing = await client.post(
        "/dashboard/test/webhooks/wh_test_nope/test", data={"csrf_token": csrf}
    )
    assert missing.status_code == 404


async def test_the_api_s_url_rules_refuse_by_the_form(client, merchant, admin):
    csrf = await signed_in(client, admin)
    body = {"name": "x", "url": "http://hooks.example/lava"}
    refused = await client.post("/dashboard/test/webhooks", data={"csrf_token": csrf, **body})
    api = await client.post("/v1/webhooks", headers=merchant.headers, json=body)
    assert refused.status_code == api.status_code == 400
    assert str(escape(api.json()["error"]["message"])) in refused.text
    assert 'id="add-error"' in refused.text
    bad_events = await client.post(
        "/dashboard/test/webhooks",
        data={
            "csrf_token": csrf,
            "name": "x",
            "url": "https://a.example",
            "enabled_events": "nope",
        },
    )
    assert bad_events.status_code == 400
    assert "unknown event type" in bad_events.text
    assert await _webhooks(client, merchant) == []


@pytest.mark.parametrize("action", ["add", "test", "status", "resend"])
async def test_a_viewer_is_refused_every_webhook_action(client, merchant, viewer, action):
    made = await client.post(
        "/v1/webhooks",
        headers=merchant.headers,
        json={"name": "a", "url": "https://hooks.example/lava"},
    )
    webhook_id = made.json()["webhook_id"]
    pinged = await client.post(f"/v1/webhooks/{webhook_id}/test", headers=merchant.headers)
    delivery_id = pinged.json()["delivery_id"]
    csrf = await signed_in(client, viewer)
    page = await client.get(f"/dashboard/test/webhooks/{webhook_id}")
    assert page.status_code == 200
    assert "Send a test event" not in page.text and "Resend" not in page.text
    listed = await client.get("/dashboard/test/webhooks")
    assert "Add the endpoint" not in listed.text
    path = {
        "add": "/dashboard/test/webhooks",
        "test": f"/dashboard/test/webhooks/{webhook_id}/test",
        "status": f"/dashboard/test/webhooks/{webhook_id}/status",
        "resend": f"/dashboard/test/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
    }[action]
    before = await _deliveries(client, merchant, webhook_id)
    refused = await client.post(
        path,
        data={"csrf_token": csrf, "name": "f", "url": "https://x.example", "status": "disabled"},
    )
    assert refused.status_code == 403
    assert "viewer" in refused.text and "whsec_" not in refused.text
    assert await _deliveries(client, merchant, webhook_id) == before
    hooks = await _webhooks(client, merchant)
    assert [(h["webhook_id"], h["status"]) for h in hooks] == [(webhook_id, "enabled")]


async def test_webhook_forms_without_the_csrf_token_are_refused(client, merchant, admin):
    await signed_in(client, admin)
    forged = await client.post(
        "/dashboard/test/webhooks", data={"name": "f", "url": "https://x.example"}
    )
    assert forged.status_code == 403
    assert await _webhooks(client, merchant) == []
