"""The API base every route shares (`docs/api.md`), against the real app and databases."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from lava_server.app import create_app
from lava_server.merchants import service as merchants
from lava_server.settings import Settings

PRODUCT = {"name": "Chat", "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}]}


def assert_error(
    response: httpx.Response, status: int, code: str, param: str | None = None
) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    if param is not None:
        assert error["param"] == param
    assert response.headers["x-lava-request-id"].startswith("req_")
    return error


async def test_empty_connections_list(client, merchant):
    response = await client.get("/v1/connections", headers=merchant.headers)
    assert response.status_code == 200
    assert response.json() == {"data": [], "has_more": False}
    assert response.headers["x-lava-request-id"].startswith("req_")


async def test_missing_and_wrong_keys_are_401(client, merchant):
    assert_error(await client.get("/v1/connections"), 401, "unauthorized", "Authorization")
    for header in ("Bearer aks_test_nope", "Basic abc", "Bearer ", merchant.secret_key):
        response = await client.get("/v1/connections", headers={"Authorization": header})
        assert_error(response, 401, "unauthorized")


async def test_revoked_key_is_refused_at_once(client, db, merchant):
    second = await merchants.create_key(db, merchant.merchant_id, livemode=False)
    headers = {"Authorization": f"Bearer {second.secret_key}"}
    assert (await client.get("/v1/products", headers=headers)).status_code == 200
    await merchants.revoke_key(db, second.key_id)
    assert_error(await client.get("/v1/products", headers=headers), 401, "unauthorized")
    # the merchant's other key still works
    assert (await client.get("/v1/products", headers=merchant.headers)).status_code == 200


async def test_sandbox_and_live_data_never_mix(client, db, merchant):
    live = await merchants.create_key(db, merchant.merchant_id, livemode=True)
    live_headers = {"Authorization": f"Bearer {live.secret_key}"}
    test_product = (
        await client.post("/v1/products", json=PRODUCT, headers=merchant.headers)
    ).json()
    live_product = (await client.post("/v1/products", json=PRODUCT, headers=live_headers)).json()
    assert test_product["product_id"].startswith("prd_test_")
    assert test_product["product_secret"].startswith("ps_test_")
    assert (
        live_product["product_id"].startswith("prd_") and "_test_" not in live_product["product_id"]
    )
    assert live_product["product_secret"].startswith("ps_live_")
    listed = (await client.get("/v1/products", headers=live_headers)).json()["data"]
    assert [p["product_id"] for p in listed] == [live_product["product_id"]]
    response = await client.get(f"/v1/products/{test_product['product_id']}", headers=live_headers)
    assert_error(response, 404, "not_found")


async def test_other_merchants_objects_are_invisible(client, db, merchant):
    other = await merchants.create_merchant(db, "Other", livemode=False)
    other_headers = {"Authorization": f"Bearer {other.secret_key}"}
    product = (await client.post("/v1/products", json=PRODUCT, headers=merchant.headers)).json()
    response = await client.get(f"/v1/products/{product['product_id']}", headers=other_headers)
    assert_error(response, 404, "not_found")
    assert (await client.get("/v1/products", headers=other_headers)).json()["data"] == []


@pytest.mark.parametrize("version", ["2025-04-28.v1", "2025-04-21.v1", "2025-03-27.v1", None])
async def test_known_api_versions_and_none_are_accepted(client, merchant, version):
    headers = dict(merchant.headers)
    if version:
        headers["X-Lava-API-Version"] = version
    assert (await client.get("/v1/connections", headers=headers)).status_code == 200


async def test_unknown_api_version_lists_the_supported_ones(client, merchant):
    headers = {**merchant.headers, "X-Lava-API-Version": "2030-01-01.v9"}
    error = assert_error(
        await client.get("/v1/connections", headers=headers), 400, "invalid_request"
    )
    assert "2025-04-28.v1" in error["message"]


async def test_get_and_delete_accept_a_json_content_type_without_body(client, merchant):
    headers = {**merchant.headers, "Content-Type": "application/json"}
    assert (await client.get("/v1/connections", headers=headers)).status_code == 200
    product = (await client.post("/v1/products", json=PRODUCT, headers=merchant.headers)).json()
    response = await client.delete(f"/v1/products/{product['product_id']}", headers=headers)
    assert response.json() == {"success": True}


async def test_unknown_route_and_method(client, merchant):
    assert_error(await client.get("/v1/nothing", headers=merchant.headers), 404, "not_found")
    response = await client.patch("/v1/connections", headers=merchant.headers)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


async def test_the_forward_path_refuses_methods_it_does_not_forward(client, merchant):
    for path in ("/v1/forward", "/v1/forward/chat/completions"):
        response = await client.options(path, headers=merchant.headers)
        assert_error(response, 405, "method_not_allowed")
        allowed = set(response.headers["allow"].split(", "))
        assert allowed == {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
        assert response.headers["x-lava-request-id"].startswith("req_")


async def test_a_call_outside_the_base_url_is_told_the_base_url(client, merchant, settings):
    """A client whose base URL lacks `/v1/` (`http://host:8787/`) calls `/connections`."""
    assert settings.base_url == "http://127.0.0.1:8787/v1/"
    for path in ("/connections", "/v1connections", "/products/prd_x"):
        error = assert_error(await client.get(path, headers=merchant.headers), 404, "not_found")
        assert f"the API's base URL is {settings.base_url}" in error["message"], path
    # Inside the API, and the checkout pages, an unknown route is just that.
    response = await client.get("/v1/nothing", headers=merchant.headers)
    assert assert_error(response, 404, "not_found")["message"] == "No such route."
    error = assert_error(await client.get("/embed/static/nothing.css"), 404, "not_found")
    assert error["message"] == "No such route."
    for path in ("/healthz", "/docs", "/redoc", "/openapi.json"):
        assert (await client.get(path)).status_code == 200, path


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b'"text"', None),
        (b"", None),
        (b'{"name": 5, "tiers": []}', "name"),
        (b'{"tiers": [{"start": 0, "rate": "1", "type": "tokens_1m"}]}', "name"),
        (
            b'{"name": "x", "tiers": [{"start": 0, "rate": "1", "type": "tokens_1m"}], "nme": 1}',
            "nme",
        ),
        (
            b'{"name": "x", "tiers": [{"start": "0", "rate": "1", "type": "tokens_1m"}]}',
            "tiers[0].start",
        ),
        (
            b'{"name": "x", "tiers": [{"start": 0, "rate": 1.5, "type": "tokens_1m"}]}',
            "tiers[0].rate",
        ),
        (
            b'{"name": "x", "tiers": [{"start": 0, "rate": "1e3", "type": "tokens_1m"}]}',
            "tiers[0].rate",
        ),
        (
            b'{"name": "x", "tiers": [{"start": 0, "rate": "NaN", "type": "tokens_1m"}]}',
            "tiers[0].rate",
        ),
        (b'{"name": "x", "tiers": "many"}', "tiers"),
        (b'{"name": "x", "tiers": null}', "tiers"),
    ],
)
async def test_malformed_bodies_are_400_and_change_nothing(client, merchant, body, param):
    headers = {**merchant.headers, "Content-Type": "application/json"}
    response = await client.post("/v1/products", content=body, headers=headers)
    assert_error(response, 400, "invalid_request", param)
    assert (await client.get("/v1/products", headers=merchant.headers)).json()["data"] == []


async def test_oversize_body_is_413(client, merchant, settings):
    big = {"name": "x" * (settings.max_body_bytes + 10), "tiers": []}
    response = await client.post("/v1/products", json=big, headers=merchant.headers)
    assert_error(response, 413, "payload_too_large")


async def test_oversize_chunked_body_is_413(client, merchant, settings):
    async def chunks():
        for _ in range(settings.max_body_bytes // 1000 + 5):
            yield b"x" * 1000

    response = await client.post("/v1/products", content=chunks(), headers=merchant.headers)
    assert_error(response, 413, "payload_too_large")


async def test_pagination_walks_every_item_newest_first(client, merchant):
    created = []
    for index in range(7):
        body = {**PRODUCT, "name": f"p{index}"}
        created.append(
            (await client.post("/v1/products", json=body, headers=merchant.headers)).json()
        )
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/products", params=params, headers=merchant.headers)).json()
        pages += 1
        seen.extend(item["name"] for item in body["data"])
        assert ("next_cursor" in body) == body["has_more"]
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]
    assert pages == 3
    assert seen == [f"p{index}" for index in reversed(range(7))]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "prd_01M8D7B8QR93QN8F3H4XRB604K"}, "cursor"),  # a live id for a test key
        ({"cursor": "x" * 300}, "cursor"),
    ],
)
async def test_bad_pagination_is_400(client, merchant, params, param):
    response = await client.get("/v1/products", params=params, headers=merchant.headers)
    assert_error(response, 400, "invalid_request", param)
    response = await client.get("/v1/connections", params=params, headers=merchant.headers)
    assert_error(response, 400, "invalid_request", param)


async def test_idempotency_key_replays_the_first_answer(client, merchant):
    headers = {**merchant.headers, "Idempotency-Key": "create-chat-1"}
    first = await client.post("/v1/products", json=PRODUCT, headers=headers)
    again = await client.post("/v1/products", json=PRODUCT, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    listed = (await client.get("/v1/products", headers=merchant.headers)).json()["data"]
    assert len(listed) == 1

    different = await client.post(
        "/v1/products", json={**PRODUCT, "name": "Other"}, headers=headers
    )
    assert_error(different, 409, "conflict", "Idempotency-Key")
    assert len((await client.get("/v1/products", headers=merchant.headers)).json()["data"]) == 1


async def test_idempotency_keys_are_scoped_to_the_secret_key(client, db, merchant):
    other = await merchants.create_merchant(db, "Other", livemode=False)
    mine = await client.post(
        "/v1/products", json=PRODUCT, headers={**merchant.headers, "Idempotency-Key": "k"}
    )
    theirs = await client.post(
        "/v1/products",
        json=PRODUCT,
        headers={"Authorization": f"Bearer {other.secret_key}", "Idempotency-Key": "k"},
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["product_id"] != theirs.json()["product_id"]


async def test_concurrent_requests_with_one_key_act_once(client, merchant):
    headers = {**merchant.headers, "Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(client.post("/v1/products", json=PRODUCT, headers=headers) for _ in range(8))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    ids = {r.json()["product_id"] for r in responses if r.status_code == 201}
    assert len(ids) == 1
    assert len((await client.get("/v1/products", headers=merchant.headers)).json()["data"]) == 1


async def test_idempotent_error_answers_are_replayed_too(client, merchant):
    headers = {**merchant.headers, "Idempotency-Key": "bad-once"}
    bad = {"name": "x", "tiers": []}
    first = await client.post("/v1/products", json=bad, headers=headers)
    again = await client.post("/v1/products", json=bad, headers=headers)
    assert first.status_code == again.status_code == 400
    assert first.json() == again.json()


async def test_overlong_idempotency_key_is_400(client, merchant):
    headers = {**merchant.headers, "Idempotency-Key": "k" * 256}
    response = await client.post("/v1/products", json=PRODUCT, headers=headers)
    assert_error(response, 400, "invalid_request", "Idempotency-Key")


async def test_rate_limit_headers_and_429(database_url, db, merchant):
    app = create_app(Settings(database_url=database_url, rate_limit_per_minute=3), db)
    app.state.lava.rate_limiter.clock = lambda: 1_800_000_010.0  # 50 s before the window ends
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lava.test") as http:
        remaining = []
        for _ in range(3):
            response = await http.get("/v1/connections", headers=merchant.headers)
            assert response.status_code == 200
            assert response.headers["x-ratelimit-limit"] == "3"
            assert int(response.headers["x-ratelimit-reset"]) > 0
            remaining.append(int(response.headers["x-ratelimit-remaining"]))
        assert remaining == [2, 1, 0]
        response = await http.get("/v1/connections", headers=merchant.headers)
        assert_error(response, 429, "rate_limited")
        assert response.headers["retry-after"] == "50"
        assert response.headers["x-ratelimit-reset"] == "1800000060"
        assert response.headers["x-ratelimit-remaining"] == "0"


async def test_healthz_and_openapi(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/products" in spec["paths"] and "/v1/connections" in spec["paths"]
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["name", "tiers", "start", "rate", "type", "x"]), children, max_size=5
        )
    ),
    max_leaves=12,
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=json_values,
    query=st.dictionaries(
        st.sampled_from(["limit", "cursor", "reference_id"]), st.text(max_size=30), max_size=3
    ),
)
async def test_no_input_gives_a_500(client, merchant, body, query):
    response = await client.post("/v1/products", content=json.dumps(body), headers=merchant.headers)
    assert response.status_code < 500, response.text
    assert "error" in response.json() or response.status_code == 201
    for path in ("/v1/products", "/v1/connections"):
        response = await client.get(path, params=query, headers=merchant.headers)
        assert response.status_code < 500, response.text


async def test_forward_calls_have_their_own_body_limit(client, settings):
    """Provider calls carry images: a 2 MiB body passes the 1 MiB API limit on /v1/forward (and
    fails there on the missing token instead), while past the forward limit it is 413."""
    big = b"x" * (2 * 1024 * 1024)
    response = await client.post(
        "/v1/forward?u=https://api.openai.com/v1/chat/completions", content=big
    )
    assert response.status_code == 401, response.text
    assert_error(await client.post("/v1/products", content=big), 413, "payload_too_large")
    too_big = b"x" * (settings.max_forward_body_bytes + 1)
    response = await client.post(
        "/v1/forward?u=https://api.openai.com/v1/chat/completions", content=too_big
    )
    assert_error(response, 413, "payload_too_large")


async def test_a_bug_is_a_500_with_its_request_id_in_the_answer_and_the_log(
    client, merchant, monkeypatch, caplog
):
    from lava_server.products import service

    async def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "list_page", broken)
    response = await client.get("/v1/products", headers=merchant.headers)
    error = assert_error(response, 500, "internal_error")
    assert error["message"] == "Internal server error."
    request_id = response.headers["x-lava-request-id"]
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert len(logged) == 1 and "RuntimeError: a bug" in (logged[0].exc_text or "")
