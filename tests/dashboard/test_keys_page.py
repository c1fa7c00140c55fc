"""The Keys page over HTTP, on SQLite and PostgreSQL: secret keys (hint only; created and shown
once; revoked, not the last one) and spend keys (limits and current spend; created and rotated
shown once; revoked, paused, resumed), through the services of the API; a viewer and a forged
form refused on the server, changing nothing."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from markupsafe import escape

from lava_server.merchants import service as merchants
from tests.dashboard.conftest import signed_in
from tests.secret_keys.helpers import later

_SECRET = re.compile(r'<pre id="new-secret"><code>([^<]+)</code>')


def _shown(html: str) -> str:
    found = _SECRET.search(html)
    assert found, "no secret shown"
    return found.group(1)


async def _api_keys(client, headers) -> list[dict]:
    listed = await client.get("/v1/secret_keys", headers=headers)
    assert listed.status_code == 200, listed.text
    return listed.json()["data"]


async def _spend_keys(client, merchant) -> list[dict]:
    listed = await client.get("/v1/spend_keys", headers=merchant.headers)
    assert listed.status_code == 200
    return listed.json()["data"]


async def test_secret_keys_show_hints_and_a_new_key_once(client, merchant, admin, caplog):
    csrf = await signed_in(client, admin)
    page = await client.get("/dashboard/test/keys")
    assert page.status_code == 200
    assert merchant.secret_key not in page.text
    assert f"aks_test_…{merchant.secret_key[-4:]}" in page.text
    assert "No spend keys yet" in page.text
    assert "curl http://lava.test/v1/spend_keys" in page.text
    made = await client.post(
        "/dashboard/test/keys/secret", data={"csrf_token": csrf, "name": "Deploy bot"}
    )
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    secret = _shown(made.text)
    assert secret.startswith("aks_test_")
    assert "shown this once" in made.text
    # The key works with the API, and is shown again only as its hint.
    keys = await _api_keys(client, {"Authorization": f"Bearer {secret}"})
    assert {key["name"] for key in keys} == {"Secret key", "Deploy bot"}
    again = await client.get("/dashboard/test/keys")
    assert secret not in again.text
    assert f"…{secret[-4:]}" in again.text
    assert secret not in caplog.text
    # Another mode's keys are not listed.
    live = await client.get("/dashboard/live/keys")
    assert secret[-4:] + "<" not in live.text
    refused = await client.post(
        "/dashboard/test/keys/secret", data={"csrf_token": csrf, "name": ""}
    )
    assert refused.status_code == 400
    assert 'id="secret-error"' in refused.text
    assert len(await _api_keys(client, merchant.headers)) == 2


async def test_revoking_a_secret_key_with_the_api_rules(client, merchant, admin, monkeypatch):
    csrf = await signed_in(client, admin)
    first = (await _api_keys(client, merchant.headers))[0]["secret_key_id"]
    last = await client.post(
        f"/dashboard/test/keys/secret/{first}/revoke", data={"csrf_token": csrf}
    )
    assert last.status_code == 400
    assert "last secret key" in last.text
    made = await client.post("/dashboard/test/keys/secret", data={"csrf_token": csrf, "name": "b"})
    second = _shown(made.text)
    young = next(
        key["secret_key_id"]
        for key in await _api_keys(client, merchant.headers)
        if key["name"] == "b"
    )
    too_soon = await client.post(
        f"/dashboard/test/keys/secret/{young}/revoke", data={"csrf_token": csrf}
    )
    assert too_soon.status_code == 429
    assert "retry in" in too_soon.text
    later(monkeypatch)  # past the API's 15 s revoke cool-down
    done = await client.post(
        f"/dashboard/test/keys/secret/{first}/revoke", data={"csrf_token": csrf}
    )
    assert done.status_code == 303
    assert (await client.get("/v1/secret_keys", headers=merchant.headers)).status_code == 401
    assert [k["name"] for k in await _api_keys(client, {"Authorization": f"Bearer {second}"})] == [
        "b"
    ]
    notice = await client.get(done.headers["location"])
    assert f"Secret key {first} revoked." in notice.text
    missing = await client.post(
        "/dashboard/test/keys/secret/key_test_nope/revoke", data={"csrf_token": csrf}
    )
    assert missing.status_code == 404


async def test_spend_keys_created_rotated_paused_resumed_and_revoked(client, merchant, admin):
    csrf = await signed_in(client, admin)
    made = await client.post(
        "/dashboard/test/keys/spend",
        data={
            "csrf_token": csrf,
            "name": "Ana's key",
            "spend_limit_amount": "5",
            "spend_limit_cycle": "weekly",
            "expires_at": "",
        },
    )
    assert made.status_code == 200, made.text
    raw = _shown(made.text)
    assert raw.startswith("lava_sk_")
    [key] = await _spend_keys(client, merchant)
    assert key["spend_limit"]["cycle"] == "weekly"
    assert Decimal(key["spend_limit"]["amount"]) == 5
    key_id = key["spend_key_id"]
    page = await client.get("/dashboard/test/keys")
    assert raw not in page.text
    assert key["key_preview"] in page.text
    assert "$5.00 / weekly" in page.text
    assert "$0.00" in page.text  # current spend
    paused = await client.post(
        f"/dashboard/test/keys/spend/{key_id}/pause", data={"csrf_token": csrf}
    )
    assert paused.status_code == 303
    assert (await _spend_keys(client, merchant))[0]["status"] == "paused"
    resumed = await client.post(
        f"/dashboard/test/keys/spend/{key_id}/resume", data={"csrf_token": csrf}
    )
    assert resumed.status_code == 303
    assert (await _spend_keys(client, merchant))[0]["status"] == "active"
    rotated = await client.post(
        f"/dashboard/test/keys/spend/{key_id}/rotate", data={"csrf_token": csrf}
    )
    assert rotated.status_code == 200
    new_raw = _shown(rotated.text)
    assert new_raw != raw and new_raw.startswith("lava_sk_")
    assert "previous secret stopped working" in rotated.text
    assert (await _spend_keys(client, merchant))[0]["key_preview"] != key["key_preview"]
    revoked = await client.post(
        f"/dashboard/test/keys/spend/{key_id}/revoke", data={"csrf_token": csrf}
    )
    assert revoked.status_code == 303
    assert await _spend_keys(client, merchant) == []
    gone = await client.post(
        f"/dashboard/test/keys/spend/{key_id}/pause", data={"csrf_token": csrf}
    )
    assert gone.status_code == 404


async def test_a_spend_key_refusal_is_the_api_s(client, merchant, admin):
    csrf = await signed_in(client, admin)
    refused = await client.post(
        "/dashboard/test/keys/spend",
        data={"csrf_token": csrf, "name": "k", "customer_id": "nobody"},
    )
    api = await client.post(
        "/v1/spend_keys", headers=merchant.headers, json={"name": "k", "customer_id": "nobody"}
    )
    assert refused.status_code == api.status_code == 400
    assert str(escape(api.json()["error"]["message"])) in refused.text
    assert 'id="spend-error"' in refused.text
    bad_limit = await client.post(
        "/dashboard/test/keys/spend",
        data={
            "csrf_token": csrf,
            "name": "k",
            "spend_limit_amount": "-1",
            "spend_limit_cycle": "x",
        },
    )
    assert bad_limit.status_code == 400
    assert "spend_limit" in bad_limit.text
    assert await _spend_keys(client, merchant) == []


@pytest.mark.parametrize(
    "path",
    [
        "secret",
        "secret/{key}/revoke",
        "spend",
        "spend/{spend}/rotate",
        "spend/{spend}/revoke",
        "spend/{spend}/pause",
    ],
)
async def test_a_viewer_is_refused_every_key_action(client, db, merchant, viewer, path):
    spend = await client.post("/v1/spend_keys", headers=merchant.headers, json={"name": "s"})
    spend_id = spend.json()["spend_key_id"]
    await merchants.create_named_key(db, _caller(merchant), "second")
    key_id = (await _api_keys(client, merchant.headers))[-1]["secret_key_id"]
    csrf = await signed_in(client, viewer)
    page = await client.get("/dashboard/test/keys")
    assert page.status_code == 200
    assert "Create the secret key" not in page.text and "Revoke" not in page.text
    before_keys = await _api_keys(client, merchant.headers)
    before_spend = await _spend_keys(client, merchant)
    refused = await client.post(
        "/dashboard/test/keys/" + path.format(key=key_id, spend=spend_id),
        data={"csrf_token": csrf, "name": "forged"},
    )
    assert refused.status_code == 403
    assert "viewer" in refused.text
    assert "lava_sk_" not in refused.text and "aks_test_" not in refused.text
    assert await _api_keys(client, merchant.headers) == before_keys
    assert await _spend_keys(client, merchant) == before_spend


async def test_key_forms_without_the_csrf_token_are_refused(client, merchant, admin):
    await signed_in(client, admin)
    forged = await client.post("/dashboard/test/keys/secret", data={"name": "forged"})
    assert forged.status_code == 403
    forged_spend = await client.post("/dashboard/test/keys/spend", data={"name": "forged"})
    assert forged_spend.status_code == 403
    assert len(await _api_keys(client, merchant.headers)) == 1
    assert await _spend_keys(client, merchant) == []


def _caller(merchant):
    from lava_server.api.auth import Caller

    return Caller(merchant_id=merchant.merchant_id, livemode=False, key_id="test")


async def test_spend_keys_page_with_the_api_cursors(client, merchant, admin):
    ids = []
    for n in range(21):
        made = await client.post(
            "/v1/spend_keys", headers=merchant.headers, json={"name": f"key-{n}"}
        )
        ids.append(made.json()["spend_key_id"])
    await signed_in(client, admin)
    first = await client.get("/dashboard/test/keys")
    assert "key-20<" in first.text and "key-1<" in first.text
    assert "key-0<" not in first.text  # 21 keys, 20 a page, newest first
    assert f"?spend_keys={ids[1]}" in first.text
    second = await client.get(f"/dashboard/test/keys?spend_keys={ids[1]}")
    assert "key-0<" in second.text and "key-1<" not in second.text
    assert (await client.get("/dashboard/test/keys?spend_keys=spk_live_x")).status_code == 400
