"""`/v1/spend_keys` (`docs/current-api.md#spend-keys`) on both databases: the 11.2.0 SDK's
`RestSpendKey` shapes, the raw key shown once and stored hashed, partial PUT with null clearing,
revoke, rotate, the customer/meter binding, validation naming the field, and keys of another
merchant or mode answered 404."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from lava_server.db.models import SpendKey
from lava_server.merchants import service as merchants
from tests.api.test_api_base import assert_error
from tests.conftest import MerchantKey

KEYS = {
    "spend_key_id",
    "key_preview",
    "name",
    "status",
    "request_shape",
    "wallet_id",
    "allowed_models",
    "allowed_providers",
    "spend_limit",
    "current_spend",
    "total_spend",
    "request_limit",
    "current_requests",
    "total_requests",
    "rate_limit",
    "expires_at",
    "last_used_at",
    "created_at",
    "customer_id",
    "meter_id",
    "meter_slug",
}
METER = {
    "name": "Chat",
    "rate_type": "fixed",
    "tier_type": "requests",
    "tiers": [{"start": "0", "rate": "0.01"}],
}


async def stored(db, key_id: str) -> SpendKey:
    async with db.read() as session:
        return (await session.execute(select(SpendKey).where(SpendKey.id == key_id))).scalar_one()


async def test_create_with_defaults_shows_the_key_once_and_stores_its_hash(client, merchant, db):
    answer = await client.post("/v1/spend_keys", json={"name": "Agent"}, headers=merchant.headers)
    assert answer.status_code == 201, answer.text
    key = answer.json()
    assert set(key) == KEYS | {"key"}
    raw = key["key"]
    assert raw.startswith("lava_sk_") and len(raw) > 40
    assert key["key_preview"] == raw[:16] + "****"
    assert key["spend_key_id"].startswith("spk_test_")
    assert key["name"] == "Agent"
    assert key["status"] == "active" and key["request_shape"] == "openai"
    assert key["wallet_id"] == merchant.merchant_id  # the merchant's own account
    assert key["customer_id"] is key["meter_id"] is key["meter_slug"] is None
    for field in ("allowed_models", "allowed_providers", "spend_limit", "request_limit"):
        assert key[field] is None
    assert key["rate_limit"] is key["expires_at"] is key["last_used_at"] is None
    assert key["current_spend"] == key["total_spend"] == "0.0000000000"
    assert key["current_requests"] == key["total_requests"] == 0
    assert key["created_at"].endswith("Z")

    row = await stored(db, key["spend_key_id"])
    assert row.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in repr(row.__dict__)

    path = f"/v1/spend_keys/{key['spend_key_id']}"
    retrieved = (await client.get(path, headers=merchant.headers)).json()
    assert retrieved == {k: v for k, v in key.items() if k != "key"}


async def test_every_field_is_set_updated_and_cleared(client, merchant):
    body = {
        "name": "Capped",
        "status": "paused",
        "request_shape": "anthropic",
        "allowed_models": ["gpt-4o-mini", "claude-3-5-haiku", "gpt-4o-mini"],
        "allowed_providers": ["openai", "anthropic"],
        "spend_limit": {"amount": "0.05", "cycle": "daily"},
        "request_limit": {"count": 500, "cycle": "weekly"},
        "rate_limit": {"rpm": 60},
        "expires_at": "2030-01-02T03:04:05+01:00",
    }
    made = await client.post("/v1/spend_keys", json=body, headers=merchant.headers)
    assert made.status_code == 201, made.text
    key = made.json()
    assert key["status"] == "paused" and key["request_shape"] == "anthropic"
    assert key["allowed_models"] == ["gpt-4o-mini", "claude-3-5-haiku"]  # duplicates dropped
    assert key["allowed_providers"] == ["openai", "anthropic"]
    assert key["spend_limit"] == {"amount": "0.0500000000", "cycle": "daily"}
    assert key["request_limit"] == {"count": 500, "cycle": "weekly"}
    assert key["rate_limit"] == {"rpm": 60, "burst": None}
    assert key["expires_at"] == "2030-01-02T02:04:05.000Z"

    path = f"/v1/spend_keys/{key['spend_key_id']}"
    updated = await client.put(
        path,
        json={"status": "active", "rate_limit": {"rpm": 10, "burst": 20}},
        headers=merchant.headers,
    )
    assert updated.status_code == 200, updated.text
    after = updated.json()
    assert after["status"] == "active" and after["rate_limit"] == {"rpm": 10, "burst": 20}
    # Left out: stays.
    assert after["name"] == "Capped" and after["request_shape"] == "anthropic"
    assert after["spend_limit"] == key["spend_limit"]
    assert "key" not in after

    cleared = await client.put(
        path,
        json={
            "name": "Open",
            "request_shape": "openai",
            "allowed_models": None,
            "allowed_providers": None,
            "spend_limit": None,
            "request_limit": None,
            "rate_limit": None,
            "expires_at": None,
        },
        headers=merchant.headers,
    )
    assert cleared.status_code == 200, cleared.text
    body_after = cleared.json()
    assert body_after["name"] == "Open" and body_after["request_shape"] == "openai"
    for field in (
        "allowed_models",
        "allowed_providers",
        "spend_limit",
        "request_limit",
        "rate_limit",
        "expires_at",
    ):
        assert body_after[field] is None, field
    assert (await client.get(path, headers=merchant.headers)).json() == body_after


async def test_list_is_cursor_paginated_newest_first(client, merchant):
    ids = []
    for n in range(3):
        made = await client.post("/v1/spend_keys", json={"name": f"k{n}"}, headers=merchant.headers)
        ids.append(made.json()["spend_key_id"])
    first = (
        await client.get("/v1/spend_keys", params={"limit": "2"}, headers=merchant.headers)
    ).json()
    assert first["has_more"] is True and first["next_cursor"] == ids[1]
    assert [k["spend_key_id"] for k in first["data"]] == [ids[2], ids[1]]
    assert all("key" not in k for k in first["data"])
    second = (
        await client.get(
            "/v1/spend_keys",
            params={"limit": "2", "cursor": first["next_cursor"]},
            headers=merchant.headers,
        )
    ).json()
    assert [k["spend_key_id"] for k in second["data"]] == [ids[0]]
    assert second["has_more"] is False and "next_cursor" not in second
    assert_error(
        await client.get("/v1/spend_keys", params={"cursor": "x"}, headers=merchant.headers),
        400,
        "invalid_request",
        "cursor",
    )


async def test_revoke_is_a_soft_delete(client, merchant, db):
    key = (
        await client.post("/v1/spend_keys", json={"name": "gone"}, headers=merchant.headers)
    ).json()
    path = f"/v1/spend_keys/{key['spend_key_id']}"
    revoked = await client.delete(path, headers=merchant.headers)
    assert revoked.status_code == 200 and revoked.json() == {"success": True}
    assert_error(await client.get(path, headers=merchant.headers), 404, "not_found", "spend_key_id")
    assert_error(await client.delete(path, headers=merchant.headers), 404, "not_found")
    assert_error(await client.post(f"{path}/rotate", headers=merchant.headers), 404, "not_found")
    listed = (await client.get("/v1/spend_keys", headers=merchant.headers)).json()
    assert listed["data"] == []
    row = await stored(db, key["spend_key_id"])
    assert row.deleted_at is not None  # the row stays


async def test_rotate_gives_a_new_key_with_the_same_settings(client, merchant, db):
    body = {"name": "r", "spend_limit": {"amount": "1", "cycle": "monthly"}}
    key = (await client.post("/v1/spend_keys", json=body, headers=merchant.headers)).json()
    path = f"/v1/spend_keys/{key['spend_key_id']}"
    rotated = await client.post(f"{path}/rotate", headers=merchant.headers)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["key"] != key["key"] and new["key"].startswith("lava_sk_")
    assert new["key_preview"] == new["key"][:16] + "****"
    same = {k: v for k, v in key.items() if k not in ("key", "key_preview")}
    assert {k: v for k, v in new.items() if k not in ("key", "key_preview")} == same
    row = await stored(db, key["spend_key_id"])
    assert row.key_hash == hashlib.sha256(new["key"].encode()).hexdigest()
    async with db.read() as session:
        from lava_server.spend_keys import repository

        old = hashlib.sha256(key["key"].encode()).hexdigest()
        assert await repository.by_hash(session, old) is None
        found = await repository.by_hash(session, row.key_hash)
        assert found is not None and found.id == key["spend_key_id"]


async def test_a_key_bound_to_a_customer_spends_its_wallet(client, merchant):
    customer = (
        await client.post("/v1/customers", json={"reference_id": "u-7"}, headers=merchant.headers)
    ).json()
    meter = (await client.post("/v1/meters", json=METER, headers=merchant.headers)).json()
    connection = (
        await client.get(f"/v1/connections/{customer['customer_id']}", headers=merchant.headers)
    ).json()
    # The reference id stands for the customer id; the meter's id for its slug.
    for customer_id, meter_slug in (
        ("u-7", meter["meter_slug"]),
        (customer["customer_id"], meter["meter_id"]),
    ):
        made = await client.post(
            "/v1/spend_keys",
            json={"name": "user", "customer_id": customer_id, "meter_slug": meter_slug},
            headers=merchant.headers,
        )
        assert made.status_code == 201, made.text
        key = made.json()
        assert key["customer_id"] == customer["customer_id"]
        assert key["meter_id"] == meter["meter_id"]
        assert key["meter_slug"] == meter["meter_slug"]
        assert key["wallet_id"] != merchant.merchant_id
        assert key["wallet_id"].startswith("wal_test_")
    assert connection["connection_id"] == customer["customer_id"]

    # A meter alone: the merchant pays, attributed to the meter.
    alone = await client.post(
        "/v1/spend_keys",
        json={"name": "m", "meter_slug": meter["meter_slug"]},
        headers=merchant.headers,
    )
    assert alone.status_code == 201 and alone.json()["wallet_id"] == merchant.merchant_id

    h = merchant.headers
    assert_error(
        await client.post("/v1/spend_keys", json={"name": "x", "customer_id": "u-7"}, headers=h),
        400,
        "invalid_request",
        "meter_slug",
    )
    missing = {"name": "x", "customer_id": "nobody", "meter_slug": meter["meter_slug"]}
    assert_error(
        await client.post("/v1/spend_keys", json=missing, headers=h),
        404,
        "not_found",
        "customer_id",
    )
    no_meter = {"name": "x", "customer_id": "u-7", "meter_slug": "nope"}
    assert_error(
        await client.post("/v1/spend_keys", json=no_meter, headers=h),
        404,
        "not_found",
        "meter_slug",
    )
    # Binding is made at creation only.
    path = f"/v1/spend_keys/{alone.json()['spend_key_id']}"
    assert_error(
        await client.put(path, json={"customer_id": "u-7"}, headers=h), 400, "invalid_request"
    )


BAD = [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 256}, "name"),
    ({"name": "k", "status": "revoked"}, "status"),
    ({"name": "k", "request_shape": "google"}, "request_shape"),
    ({"name": "k", "allowed_models": "gpt-4o"}, "allowed_models"),
    ({"name": "k", "allowed_models": [""]}, "allowed_models"),
    ({"name": "k", "allowed_providers": ["Open AI"]}, "allowed_providers"),
    ({"name": "k", "spend_limit": {"amount": "0", "cycle": "daily"}}, "spend_limit"),
    ({"name": "k", "spend_limit": {"amount": "-1", "cycle": "daily"}}, "spend_limit"),
    ({"name": "k", "spend_limit": {"amount": 5, "cycle": "daily"}}, "spend_limit"),
    ({"name": "k", "spend_limit": {"amount": "5", "cycle": "yearly"}}, "spend_limit"),
    ({"name": "k", "spend_limit": {"amount": "5"}}, "spend_limit"),
    ({"name": "k", "request_limit": {"count": 0, "cycle": "total"}}, "request_limit"),
    ({"name": "k", "request_limit": {"count": 1.5, "cycle": "total"}}, "request_limit"),
    ({"name": "k", "request_limit": {"count": True, "cycle": "total"}}, "request_limit"),
    ({"name": "k", "request_limit": {"cycle": "total"}}, "request_limit"),
    ({"name": "k", "rate_limit": {"rpm": 0}}, "rate_limit"),
    ({"name": "k", "rate_limit": {"rpm": 10, "burst": 0}}, "rate_limit"),
    ({"name": "k", "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
    ({"name": "k", "expires_at": "tomorrow"}, "expires_at"),
    ({"name": "k", "wallet_id": "wal_x"}, "wallet_id"),
]


async def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(client, merchant):
    h = merchant.headers
    for body, field in BAD:
        error = assert_error(
            await client.post("/v1/spend_keys", json=body, headers=h), 400, "invalid_request"
        )
        assert re.split(r"[.[]", error["param"])[0] == field, (body, error)
    key = (await client.post("/v1/spend_keys", json={"name": "k"}, headers=h)).json()
    path = f"/v1/spend_keys/{key['spend_key_id']}"
    for body, field in BAD[1:]:
        error = assert_error(await client.put(path, json=body, headers=h), 400, "invalid_request")
        assert re.split(r"[.[]", error["param"])[0] == field, (body, error)
    for field in ("name", "status", "request_shape"):
        assert_error(
            await client.put(path, json={field: None}, headers=h), 400, "invalid_request", field
        )
    listed = (await client.get("/v1/spend_keys", headers=h)).json()["data"]
    assert [{k: v for k, v in item.items()} for item in listed] == [
        {k: v for k, v in key.items() if k != "key"}
    ]


async def test_another_merchants_or_modes_key_is_a_404(client, merchant, db):
    other = await merchants.create_merchant(db, "Other", livemode=False)
    live = await merchants.create_key(db, merchant.merchant_id, livemode=True)
    key = (
        await client.post("/v1/spend_keys", json={"name": "mine"}, headers=merchant.headers)
    ).json()
    path = f"/v1/spend_keys/{key['spend_key_id']}"
    for caller in (
        MerchantKey(other.merchant_id, other.secret_key),
        MerchantKey(live.merchant_id, live.secret_key),
    ):
        h = caller.headers
        assert_error(await client.get(path, headers=h), 404, "not_found", "spend_key_id")
        assert_error(await client.put(path, json={"name": "x"}, headers=h), 404, "not_found")
        assert_error(await client.delete(path, headers=h), 404, "not_found")
        assert_error(await client.post(f"{path}/rotate", headers=h), 404, "not_found")
        assert (await client.get("/v1/spend_keys", headers=h)).json()["data"] == []
    live_key = (
        await client.post(
            "/v1/spend_keys",
            json={"name": "live"},
            headers={"Authorization": f"Bearer {live.secret_key}"},
        )
    ).json()
    assert live_key["spend_key_id"].startswith("spk_") and "_test_" not in live_key["spend_key_id"]
    # The sandbox merchant cannot bind a key to another merchant's customer.
    theirs = (
        await client.post(
            "/v1/customers",
            json={"reference_id": "theirs"},
            headers=MerchantKey(other.merchant_id, other.secret_key).headers,
        )
    ).json()
    meter = (await client.post("/v1/meters", json=METER, headers=merchant.headers)).json()
    assert_error(
        await client.post(
            "/v1/spend_keys",
            json={
                "name": "x",
                "customer_id": theirs["customer_id"],
                "meter_slug": meter["meter_id"],
            },
            headers=merchant.headers,
        ),
        404,
        "not_found",
        "customer_id",
    )
    assert (await client.get(path, headers=merchant.headers)).status_code == 200


async def test_counters_of_a_past_cycle_read_as_zero(client, merchant, db, clock):
    clock.now = datetime(2026, 3, 31, 23, 0, tzinfo=timezone.utc)  # a Tuesday
    body = {
        "name": "c",
        "spend_limit": {"amount": "1", "cycle": "daily"},
        "request_limit": {"count": 10, "cycle": "monthly"},
    }
    key = (await client.post("/v1/spend_keys", json=body, headers=merchant.headers)).json()
    async with db.write() as session:
        row = await session.get(SpendKey, key["spend_key_id"])
        assert row is not None
        row.current_spend = row.total_spend = row.current_spend + 1
        row.current_requests = row.total_requests = 3
    path = f"/v1/spend_keys/{key['spend_key_id']}"
    now = (await client.get(path, headers=merchant.headers)).json()
    assert now["current_spend"] == now["total_spend"] == "1.0000000000"
    assert now["current_requests"] == now["total_requests"] == 3
    clock.advance(hours=1)  # April 1st: a new day and a new month
    after = (await client.get(path, headers=merchant.headers)).json()
    assert after["current_spend"] == "0.0000000000" and after["total_spend"] == "1.0000000000"
    assert after["current_requests"] == 0 and after["total_requests"] == 3
    # Changing a limit's cycle starts its count afresh; keeping it does not.
    clock.now -= timedelta(hours=1)
    same = await client.put(
        path, json={"spend_limit": {"amount": "2", "cycle": "daily"}}, headers=merchant.headers
    )
    assert same.json()["current_spend"] == "1.0000000000"
    other = await client.put(
        path, json={"spend_limit": {"amount": "2", "cycle": "total"}}, headers=merchant.headers
    )
    assert other.json()["current_spend"] == "0.0000000000"
    assert other.json()["total_spend"] == "1.0000000000"


async def test_a_spend_key_calls_none_of_the_management_api(client, merchant):
    key = (await client.post("/v1/spend_keys", json={"name": "k"}, headers=merchant.headers)).json()
    theirs = {"Authorization": f"Bearer {key['key']}"}
    for method, path in (
        ("GET", "/v1/spend_keys"),
        ("POST", f"/v1/spend_keys/{key['spend_key_id']}/rotate"),
        ("GET", "/v1/customers"),
        ("POST", "/v1/secret_keys"),
    ):
        answer = await client.request(method, path, headers=theirs, json={"name": "x"})
        assert_error(answer, 401, "unauthorized", "Authorization")
