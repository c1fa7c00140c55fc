"""Routing, credentials, headers and metadata of `/v1/forward` (`docs/forward-proxy.md`)."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import httpx
import pytest

from lava_server.merchants import service as merchants
from lavapayments.forward_token import encode_forward_token
from tests.conftest import MerchantKey
from tests.proxy.conftest import make_billed

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}

HOSTILE_U = [
    "https://evil.example.com/v1/chat/completions",
    "http://api.openai.com/v1/chat/completions",  # http for a provider
    "https://api.openai.com.evil.com/v1/chat/completions",  # lookalike suffix
    "https://evilapi.openai.com/v1",
    "https://api-openai.com/v1/chat/completions",
    "https://api.openai.co/v1/chat/completions",
    "https://user:pass@api.openai.com/v1/chat/completions",  # userinfo
    "https://api.openai.com@evil.com/v1/chat/completions",
    "https://127.0.0.1/v1/chat/completions",  # IP literals in every spelling
    "https://2130706433/v1/chat/completions",
    "https://0x7f000001/v1/chat/completions",
    "https://0177.0.0.1/v1/chat/completions",
    "https://[::1]/v1/chat/completions",
    "https://[::ffff:127.0.0.1]/v1/chat/completions",
    "https://169.254.169.254/latest/meta-data",
    "https://api.openai.com:8443/v1/chat/completions",  # another port
    "https://api.openai.com./v1/chat/completions",  # trailing dot
    "https://аpi.openai.com/v1/chat/completions",  # Cyrillic a
    "https://api.openai.com/v2/chat/completions",  # outside the base path
    "https://api.openai.com/v1/../admin",  # traversal
    "https://api.openai.com/v1/%2e%2e/admin",
    "https://api.openai.com/v1%2f..%2fadmin",
    "file:///etc/passwd",
    "gopher://api.openai.com/v1",
    "//api.openai.com/v1/chat/completions",
    "api.openai.com/v1/chat/completions",
    "https://api.openai.com\\@evil.com/v1",
    "https://api.openai.com/v1/chat/completions#frag",
    "https://localhost/v1/chat/completions",
    "",
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_hostile_u_values_are_refused_and_nothing_is_sent(billed, fake):
    assert len(HOSTILE_U) >= 20
    async with httpx.AsyncClient(timeout=10) as http:
        for u in HOSTILE_U:
            # Raw, a "#" would start the fragment of our own URL and never reach us.
            for form in (quote(u, safe=""), u) if "#" not in u else (quote(u, safe=""),):
                response = await http.post(
                    f"{billed.base}/v1/forward?u={form}",
                    json=CHAT,
                    headers={"Authorization": f"Bearer {billed.token}"},
                )
                assert response.status_code == 400, (u, response.text)
                error = response.json()["error"]
                assert error["code"] == "invalid_request"
                assert error["param"] == "u", (u, error)
    assert fake.requests == []
    assert await billed.requests() == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_form_of_u_reaches_the_same_upstream(billed, fake):
    base = billed.base + "/v1/forward"
    forms = [
        "?u=" + quote("https://api.openai.com/v1/chat/completions", safe=""),
        "?u=https://api.openai.com/v1/chat/completions",
        "/chat/completions?u=https://api.openai.com/v1",
        "/?u=https://api.openai.com/v1chat/completions",  # the openai client's form
        "?u=HTTPS://API.OpenAI.com:443/v1/chat/completions",
    ]
    async with httpx.AsyncClient(timeout=10) as http:
        for form in forms:
            response = await http.post(
                base + form, json=CHAT, headers={"Authorization": f"Bearer {billed.token}"}
            )
            assert response.status_code == 200, (form, response.text)
    assert [r["path"] for r in fake.requests] == ["/v1/chat/completions"] * len(forms)
    assert len(await billed.requests()) == len(forms)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_token_in_every_carrier(billed, fake):
    url = f"{billed.base}/v1/forward?u=https://api.openai.com/v1/chat/completions"
    carriers = [
        {"headers": {"Authorization": f"Bearer {billed.token}"}},
        {"headers": {"x-api-key": billed.token}},
        {"headers": {"x-goog-api-key": billed.token}},
        {"headers": {"xi-api-key": billed.token}},
        {"query": "&key=" + quote(billed.token, safe="")},
    ]
    async with httpx.AsyncClient(timeout=10) as http:
        for carrier in carriers:
            response = await http.post(
                url + carrier.get("query", ""), json=CHAT, headers=carrier.get("headers")
            )
            assert response.status_code == 200, (carrier, response.text)
    for sent in fake.requests:
        # Only the provider key goes upstream, the provider's way; our token never does.
        assert sent["api_key"] == "sk-managed-openai" and sent["key_source"] == "authorization"
        assert billed.token not in json.dumps(sent)
        assert "key=" not in sent["query"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_headers_allowlisted_both_ways(billed, fake):
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{billed.base}/v1/forward?u=https://api.openai.com/v1/chat/completions",
            json=CHAT,
            headers={
                "Authorization": f"Bearer {billed.token}",
                "Cookie": "session=secret",
                "X-Forwarded-For": "10.0.0.1",
                "OpenAI-Beta": "assistants=v2",
                "User-Agent": "my-app/1.0",
                "X-Custom": "nope",
                "Connection": "keep-alive, X-Custom",
            },
        )
    assert response.status_code == 200
    sent = fake.requests[-1]["headers"]
    assert sent["openai-beta"] == "assistants=v2"
    assert sent["user-agent"] == "my-app/1.0"
    assert sent["accept-encoding"] == "identity"
    for name in ("cookie", "x-forwarded-for", "x-custom", "x-api-key", "x-lava-metadata"):
        assert name not in sent
    assert response.headers["x-request-id"].startswith("req_")
    assert response.headers.get_list("x-lava-request-id") == [
        (await billed.requests())[0]["request_id"]
    ]
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_metadata_from_header_or_query(billed, fake):
    url = f"{billed.base}/v1/forward?u=https://api.openai.com/v1/chat/completions"
    auth = {"Authorization": f"Bearer {billed.token}"}
    async with httpx.AsyncClient(timeout=10) as http:
        by_header = await http.post(
            url, json=CHAT, headers={**auth, "x-lava-metadata": '{"user_id":"u1"}'}
        )
        by_query = await http.post(
            url + "&metadata=" + quote('{"feature":"chat bot"}'), json=CHAT, headers=auth
        )
        bad = [
            await http.post(url, json=CHAT, headers={**auth, "x-lava-metadata": "[1]"}),
            await http.post(url, json=CHAT, headers={**auth, "x-lava-metadata": '{"a b":"c"}'}),
            await http.post(url, json=CHAT, headers={**auth, "x-lava-metadata": '{"k":""}'}),
            await http.post(url, json=CHAT, headers={**auth, "x-lava-metadata": "{"}),
            await http.post(url + "&metadata=" + quote('{"k":1}'), json=CHAT, headers=auth),
        ]
    assert (await billed.request(by_header.headers["x-lava-request-id"]))["metadata"] == {
        "user_id": "u1"
    }
    assert (await billed.request(by_query.headers["x-lava-request-id"]))["metadata"] == {
        "feature": "chat bot"
    }
    assert fake.requests[-1]["query"] == ""  # ours, not the provider's
    for response in bad:
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] in ("x-lava-metadata", "metadata")
    assert len(fake.requests) == 2


async def test_credential_errors(billed, fake, db):
    url = f"{billed.base}/v1/forward?u=https://api.openai.com/v1/chat/completions"
    other = await merchants.create_merchant(db, "Other", livemode=False)
    other_billed = await make_billed(billed.base, _key(other))
    secret = billed.merchant.secret_key
    connection = billed.connection["connection_secret"]
    product = billed.product["product_secret"]

    def token(**fields: str | None) -> str:
        values = {"secret_key": secret, "connection_secret": connection, "product_secret": product}
        values.update(fields)
        return base64.b64encode(json.dumps(values).encode()).decode()

    cases = [
        (None, 401, "Authorization"),
        ("not base64!", 401, "Authorization"),
        (base64.b64encode(b"[1, 2]").decode(), 401, "Authorization"),
        (token(secret_key=None), 401, "secret_key"),
        (token(secret_key="aks_test_unknown"), 401, "secret_key"),
        (token(connection_secret="cons_test_unknown"), 401, "connection_secret"),
        (token(product_secret="ps_test_unknown"), 404, "product_secret"),
        (token(connection_secret=other_billed.connection["connection_secret"]), 403, None),
        (token(product_secret=other_billed.product["product_secret"]), 403, "product_secret"),
        (token(connection_secret=None), 401, "connection_secret"),
        (token(connection_secret=None, product_secret=None), 401, "provider_key"),
    ]
    async with httpx.AsyncClient(timeout=10) as http:
        for raw, status, param in cases:
            headers = {} if raw is None else {"Authorization": f"Bearer {raw}"}
            response = await http.post(url, json=CHAT, headers=headers)
            assert response.status_code == status, (raw, response.text)
            error = response.json()["error"]
            assert error["status"] == status
            if param is not None:
                assert error["param"] == param, error
        # No provider key for Anthropic: 400 naming the provider.
        response = await http.post(
            f"{billed.base}/v1/forward?u=https://api.anthropic.com/v1/messages",
            json={"model": "claude-haiku-4-5", "max_tokens": 10, "messages": CHAT["messages"]},
            headers={"x-api-key": billed.token},
        )
        assert response.status_code == 400
        assert "anthropic" in response.json()["error"]["message"]
        assert "LAVA_PROVIDER_KEY_ANTHROPIC" in response.json()["error"]["message"]
        # A deleted connection stops working at once; so does a revoked secret key.
        async with billed.api() as api:
            deleted = await api.delete(f"connections/{billed.connection['connection_id']}")
            assert deleted.status_code == 200
        response = await http.post(url, json=CHAT, headers={"Authorization": f"Bearer {token()}"})
        assert response.status_code == 401
        assert response.json()["error"]["param"] == "connection_secret"
    assert fake.requests == []


async def test_metering_only_token_bills_nobody(billed, fake, db):
    token = encode_forward_token(
        secret_key=billed.merchant.secret_key,
        connection_secret=None,
        product_secret=None,
        provider_key="sk-merchant-own",
    )
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{billed.base}/v1/forward?u=https://api.openai.com/v1/chat/completions",
            json=CHAT,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200
    assert fake.requests[-1]["api_key"] == "sk-merchant-own"
    stored = await billed.request(response.headers["x-lava-request-id"])
    assert stored["status"] == "completed"
    assert stored["provider_key_type"] == "unmanaged"
    assert "connection_id" not in stored and "product_id" not in stored
    assert stored["model_usage"]["input_tokens"] > 0
    assert stored["total_wallet_cost"] == "0.0000000000"
    assert stored["fee"]["amount"] == "0.0000000000"
    assert stored["total_merchant_cost"] == stored["model_usage"]["total_cost"]
    from lava_server.wallets.service import check

    report = await check(db)
    assert report.problems == []
    assert await billed.balance() == 10


async def test_default_product_without_product_secret(billed, fake):
    token = base64.b64encode(
        json.dumps(
            {
                "secret_key": billed.merchant.secret_key,
                "connection_secret": billed.connection["connection_secret"],
                "product_secret": None,
            }
        ).encode()
    ).decode()
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{billed.base}/v1/forward?u=https://api.openai.com/v1/chat/completions",
            json=CHAT,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    stored = await billed.request(response.headers["x-lava-request-id"])
    assert stored["fee"]["amount"] == "0.0000000000"
    assert stored["total_wallet_cost"] == stored["model_usage"]["total_cost"]
    assert "product_id" not in stored


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_managed_key_only_reaches_metered_apis(billed, fake):
    url = f"{billed.base}/v1/forward?u=https://api.openai.com/v1"
    auth = {"Authorization": f"Bearer {billed.token}"}
    async with httpx.AsyncClient(timeout=10) as http:
        listed = await http.get(url + "/models", headers=auth)
        refused = await http.post(url + "/fine_tuning/jobs", json={}, headers=auth)
    assert listed.status_code == 200
    assert listed.json()["object"] == "list"
    assert refused.status_code == 400
    assert [r["path"] for r in fake.requests] == ["/v1/models"]


def _key(new_key: merchants.NewKey) -> MerchantKey:
    return MerchantKey(new_key.merchant_id, new_key.secret_key)


async def test_redirects_are_relayed_never_followed(
    proxy_settings, upstream_env, merchant, monkeypatch, db
):
    from starlette.applications import Starlette
    from starlette.responses import RedirectResponse
    from starlette.routing import Route

    from lava_server.app import create_app
    from lava_server.testing import serve_in_thread

    hits: list[str] = []

    async def redirect(request):
        hits.append(request.url.path)
        return RedirectResponse("https://evil.example.com/steal", status_code=307)

    upstream = Starlette(routes=[Route("/{path:path}", redirect, methods=["POST", "GET"])])
    with serve_in_thread(upstream) as redirector:
        monkeypatch.setenv("LAVA_UPSTREAM_OPENAI", redirector.url)
        with serve_in_thread(create_app(proxy_settings)) as server:
            billed = await make_billed(server.url, merchant)
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.post(
                    f"{server.url}/v1/forward?u=https://api.openai.com/v1/chat/completions",
                    json=CHAT,
                    headers={"Authorization": f"Bearer {billed.token}"},
                )
            assert response.status_code == 307
            assert response.headers["location"] == "https://evil.example.com/steal"
            stored = await billed.request(response.headers["x-lava-request-id"])
            assert stored["status"] == "error"
            assert stored["total_wallet_cost"] == "0.0000000000"
    assert hits == ["/v1/chat/completions"]


def test_provider_keys_from_the_environment():
    from lava_server.proxy.credentials import ProviderKeys

    keys = ProviderKeys({"openai": "sk-1", "google_openai_compatible": "g-1", "xai": " x-1 "})
    assert keys.get("openai") == "sk-1"
    assert keys.get("googleOpenaiCompatible") == "g-1"
    assert keys.get("xai") == "x-1"
    assert keys.get("anthropic") is None
    with pytest.raises(ValueError, match="OPENIA"):
        ProviderKeys({"openia": "sk-typo"})


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_resolved_targets_are_remembered_but_never_with_a_token(lava, billed, fake):
    """The proxy remembers where each forward URL goes (an app sends the same few), but not a
    URL that carries a forward token in its query."""
    forward = lava.app.state.forward
    plain = f"{billed.base}/v1/forward?u=https://api.openai.com/v1/chat/completions"
    tagged = plain + "&metadata=" + quote('{"feature":"a"}')
    with_key = plain + "&key=" + quote(billed.token, safe="")
    auth = {"Authorization": f"Bearer {billed.token}"}
    async with httpx.AsyncClient(timeout=10) as http:
        answers = [
            await http.post(url, json=CHAT, headers=headers)
            for url, headers in [(plain, auth), (tagged, auth), (with_key, None)] * 2
        ]
    assert [r.status_code for r in answers] == [200] * 6
    stored = [await billed.request(r.headers["x-lava-request-id"]) for r in answers]
    assert [r["metadata"] for r in stored] == [{}, {"feature": "a"}, {}] * 2
    assert len(fake.requests) == 6
    remembered = list(forward._targets.values())
    assert len(remembered) == 2 and all(t.key is None for t in remembered)
    assert all(billed.token not in repr(key) for key in forward._targets)
