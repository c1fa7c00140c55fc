"""`/v1/secret_keys` of the current API, on both databases: a key is shown once and works at
once, the list shows hints only, a revoked key stops working, and the last key stays."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from lava_server import timeutil
from lava_server.db.models import ApiKey
from tests.api.test_api_base import assert_error
from tests.secret_keys.helpers import later


async def test_create_list_use_and_revoke(client, merchant, db, monkeypatch):
    created = await client.post("/v1/secret_keys", json={"name": "CI"}, headers=merchant.headers)
    assert created.status_code == 201, created.text
    key = created.json()
    assert set(key) == {"secret_key_id", "name", "secret_key_hint", "created_at", "secret_key"}
    assert key["secret_key"].startswith("aks_test_")
    assert key["secret_key_hint"] == key["secret_key"][-4:]
    assert key["name"] == "CI"
    async with db.read() as session:
        stored = (
            await session.execute(select(ApiKey).where(ApiKey.id == key["secret_key_id"]))
        ).scalar_one()
    assert key["secret_key"] not in (stored.key_hash, stored.hint)  # only its hash is kept

    new_headers = {"Authorization": f"Bearer {key['secret_key']}"}
    listed = (await client.get("/v1/secret_keys", headers=new_headers)).json()
    assert listed["has_more"] is False
    assert listed["data"][0]["secret_key_id"] == key["secret_key_id"]
    assert len(listed["data"]) == 2
    for item in listed["data"]:
        assert set(item) == {"secret_key_id", "name", "secret_key_hint", "created_at"}
        assert len(item["secret_key_hint"]) == 4
    assert listed["data"][1]["name"] == "Secret key"  # the name of keys made without one
    page = (await client.get("/v1/secret_keys?limit=1", headers=new_headers)).json()
    assert page["has_more"] is True and page["next_cursor"] == key["secret_key_id"]

    # The new key revokes the old one (once the cooldown is over); the old one is refused from
    # then on.
    old_id = listed["data"][1]["secret_key_id"]
    later(monkeypatch, seconds=16)
    deleted = await client.delete(f"/v1/secret_keys/{old_id}", headers=new_headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": old_id, "deleted": True}
    assert_error(await client.get("/v1/secret_keys", headers=merchant.headers), 401, "unauthorized")
    assert_error(
        await client.delete(f"/v1/secret_keys/{old_id}", headers=new_headers),
        404,
        "not_found",
        "id",
    )
    # The last key of the mode stays.
    last = await client.delete(f"/v1/secret_keys/{key['secret_key_id']}", headers=new_headers)
    assert_error(last, 400, "invalid_request", "id")
    assert (await client.get("/v1/secret_keys", headers=new_headers)).status_code == 200


async def test_keys_are_per_merchant_and_mode(client, merchant, live_merchant):
    theirs = (await client.get("/v1/secret_keys", headers=live_merchant.headers)).json()["data"]
    assert len(theirs) == 1
    assert_error(
        await client.delete(
            f"/v1/secret_keys/{theirs[0]['secret_key_id']}", headers=merchant.headers
        ),
        404,
        "not_found",
    )
    assert_error(
        await client.post("/v1/secret_keys", json={}, headers=merchant.headers),
        400,
        "invalid_request",
        "name",
    )
    assert_error(
        await client.post("/v1/secret_keys", json={"name": ""}, headers=merchant.headers),
        400,
        "invalid_request",
        "name",
    )


async def test_a_key_is_revoked_15_s_after_its_creation_at_the_earliest(
    client, merchant, monkeypatch
):
    """`docs/current-api.md#secret-keys`: 429 with Retry-After (whole seconds left, rounded up)
    until the key is 15 s old; nothing changes meanwhile."""
    start = datetime.now(timezone.utc)
    monkeypatch.setattr(timeutil, "clock", lambda: start)
    created = await client.post("/v1/secret_keys", json={"name": "new"}, headers=merchant.headers)
    key = created.json()
    new_headers = {"Authorization": f"Bearer {key['secret_key']}"}
    for elapsed, retry_after in ((0, "15"), (5.5, "10"), (14.9, "1")):
        monkeypatch.setattr(timeutil, "clock", lambda e=elapsed: start + timedelta(seconds=e))
        refused = await client.delete(
            f"/v1/secret_keys/{key['secret_key_id']}", headers=merchant.headers
        )
        error = assert_error(refused, 429, "rate_limited", "id")
        assert "15 s" in error["message"]
        assert refused.headers["retry-after"] == retry_after
        assert (await client.get("/v1/secret_keys", headers=new_headers)).status_code == 200
    # The merchant's first key is as young: the new key cannot revoke it yet either.
    listed = (await client.get("/v1/secret_keys", headers=new_headers)).json()["data"]
    assert len(listed) == 2
    monkeypatch.setattr(timeutil, "clock", lambda: start + timedelta(seconds=15))
    deleted = await client.delete(
        f"/v1/secret_keys/{key['secret_key_id']}", headers=merchant.headers
    )
    assert deleted.status_code == 200, deleted.text
    assert_error(await client.get("/v1/secret_keys", headers=new_headers), 401, "unauthorized")
    # The last key: the 400 comes first, it will never be revocable.
    young = await client.post("/v1/secret_keys", json={"name": "x"}, headers=merchant.headers)
    young_headers = {"Authorization": f"Bearer {young.json()['secret_key']}"}
    monkeypatch.setattr(timeutil, "clock", lambda: start + timedelta(seconds=40))
    assert (
        await client.delete(f"/v1/secret_keys/{listed[1]['secret_key_id']}", headers=young_headers)
    ).status_code == 200
    monkeypatch.setattr(timeutil, "clock", lambda: start + timedelta(seconds=16))  # 1 s old
    assert_error(
        await client.delete(
            f"/v1/secret_keys/{young.json()['secret_key_id']}", headers=young_headers
        ),
        400,
        "invalid_request",
        "id",
    )
