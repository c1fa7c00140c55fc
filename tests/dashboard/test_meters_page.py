"""The Meters pages over HTTP, on SQLite and PostgreSQL: the list, creating and editing a meter
through `/v1/products`' services (a bad field shown by that field, nothing saved), the tier
editor's rows, the price preview (the price the API then charges), and the viewer refused."""

from __future__ import annotations

import html
import re
from decimal import Decimal

from tests.dashboard.conftest import signed_in

FORM = {
    "name": "Chat Pro",
    "meter_slug": "",
    "rate_type": "fixed",
    "tier_type": "tokens_1m",
    "token_basis": "input+output",
    "base_cost_payer": "wallet",
    "service_charge_payer": "wallet",
    "overdraft": "block",
    "tier_count": "2",
    "tier-0-start": "0",
    "tier-0-rate": "2.50",
    "tier-1-start": "1000",
    "tier-1-rate": "1.25",
    "sample_input": "900",
    "sample_output": "300",
    "sample_prior": "0",
    "sample_provider_cost": "0",
}


async def _products(client, merchant) -> list[dict]:
    answer = await client.get("/v1/products?limit=100", headers=merchant.headers)
    return answer.json()["data"]


def _text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert found, f"no #{element_id}"
    return found.group(1).strip()


async def test_creating_a_meter_with_a_preview_that_the_api_then_charges(client, merchant, admin):
    csrf = await signed_in(client, admin)
    form = {**FORM, "csrf_token": csrf}
    # The preview prices the form, unsaved: 1200 tokens, 1000 at $2.50 / 1M and 200 at $1.25.
    shown = await client.post("/dashboard/test/meters/new", data={**form, "intent": "preview"})
    assert shown.status_code == 200, shown.text
    assert await _products(client, merchant) == []
    fee = _text(shown.text, "preview-fee")
    assert fee == "0.0027500000"
    service = _text(shown.text, "preview-service")
    assert Decimal(service) == (Decimal(fee) * Decimal("0.019")).quantize(Decimal("1E-10"))
    assert "This request would cost" in shown.text
    made = await client.post("/dashboard/test/meters/new", data={**form, "intent": "save"})
    assert made.status_code == 303
    [meter] = await _products(client, merchant)
    assert made.headers["location"].startswith(f"/dashboard/test/meters/{meter['product_id']}")
    assert meter["name"] == "Chat Pro" and meter["meter_slug"] == "chat-pro"
    assert meter["tiers"] == [
        {"start": 0, "rate": "2.50", "type": "tokens_1m"},
        {"start": 1000, "rate": "1.25", "type": "tokens_1m"},
    ]
    # The same request, reported to the API, costs what the preview said.
    customer = await client.post(
        "/v1/test_helpers/connections", headers=merchant.headers, json={"balance": "5"}
    )
    report = await client.post(
        "/v1/requests",
        headers=merchant.headers,
        json={
            "request_id": "r1",
            "customer_id": customer.json()["connection_id"],
            "meter_id": meter["product_id"],
            "input_tokens": 900,
            "output_tokens": 300,
        },
    )
    assert report.status_code == 201, report.text
    assert report.json()["fee"]["amount"] == fee
    assert report.json()["service_charge"]["amount"] == service
    page = await client.get(made.headers["location"])
    assert "Meter Chat Pro created." in page.text
    assert _text(page.text, "preview-fee")  # the saved meter's preview, default sample
    listed = await client.get("/dashboard/test/meters")
    assert "Chat Pro" in listed.text and "1.25" in listed.text and "wallet" in listed.text


async def test_a_bad_field_is_shown_by_it_and_nothing_is_saved(client, merchant, admin):
    csrf = await signed_in(client, admin)
    bad_rate = await client.post(
        "/dashboard/test/meters/new",
        data={**FORM, "csrf_token": csrf, "tier-1-rate": "cheap", "intent": "save"},
    )
    assert bad_rate.status_code == 400
    assert 'id="tier-1-rate-error"' in bad_rate.text
    assert 'value="cheap"' in bad_rate.text  # the form keeps what was typed
    # A pricing rule (starts must rise), refused by the same check as the API's.
    bad_start = await client.post(
        "/dashboard/test/meters/new",
        data={**FORM, "csrf_token": csrf, "tier-1-start": "0", "intent": "save"},
    )
    api = await client.post(
        "/v1/products",
        headers=merchant.headers,
        json={
            "name": "x",
            "tiers": [
                {"start": 0, "rate": "1", "type": "tokens_1m"},
                {"start": 0, "rate": "1", "type": "tokens_1m"},
            ],
        },
    )
    assert bad_start.status_code == api.status_code == 400
    assert 'id="tier-1-start-error"' in bad_start.text
    assert api.json()["error"]["message"] in html.unescape(bad_start.text)
    no_name = await client.post(
        "/dashboard/test/meters/new",
        data={**FORM, "csrf_token": csrf, "name": "", "intent": "save"},
    )
    assert no_name.status_code == 400 and 'id="name-error"' in no_name.text
    assert await _products(client, merchant) == []


async def test_the_tier_editor_adds_and_removes_rows(client, merchant, admin):
    csrf = await signed_in(client, admin)
    added = await client.post(
        "/dashboard/test/meters/new", data={**FORM, "csrf_token": csrf, "intent": "add-tier"}
    )
    assert added.status_code == 200
    assert 'id="tier-2-start"' in added.text and 'name="tier_count" value="3"' in added.text
    removed = await client.post(
        "/dashboard/test/meters/new",
        data={**FORM, "csrf_token": csrf, "intent": "remove-tier-0"},
    )
    assert 'id="tier-1-start"' not in removed.text
    assert 'value="1.25"' in removed.text and 'value="2.50"' not in removed.text
    assert await _products(client, merchant) == []


async def test_editing_a_meter(client, merchant, admin):
    csrf = await signed_in(client, admin)
    made = await client.post(
        "/dashboard/test/meters/new", data={**FORM, "csrf_token": csrf, "intent": "save"}
    )
    [meter] = await _products(client, merchant)
    url = f"/dashboard/test/meters/{meter['product_id']}"
    assert made.headers["location"].startswith(url)
    edited = await client.post(
        url,
        data={
            **FORM,
            "csrf_token": csrf,
            "name": "Chat Max",
            "rate_type": "percentage",
            "tier_count": "1",
            "tier-0-rate": "20",
            "service_charge_payer": "merchant",
            "intent": "save",
        },
    )
    assert edited.status_code == 303
    [after] = await _products(client, merchant)
    assert after["name"] == "Chat Max" and after["rate_type"] == "percentage"
    assert after["tiers"] == [{"start": 0, "rate": "20", "type": "tokens_1m"}]
    assert after["service_charge_payer"] == "merchant"
    refused = await client.post(
        url, data={**FORM, "csrf_token": csrf, "tier-0-start": "5", "intent": "save"}
    )
    assert refused.status_code == 400 and 'id="tier-0-start-error"' in refused.text
    assert await _products(client, merchant) == [after]
    # The saved meter's preview (a GET): 20% of a $0.50 provider cost.
    page = await client.get(f"{url}?input=10&output=0&prior=0&provider_cost=0.5")
    assert _text(page.text, "preview-fee") == "0.1000000000"
    bad = await client.get(f"{url}?input=ten")
    assert 'id="preview-error"' in bad.text


async def test_a_viewer_sees_meters_but_is_refused_on_the_server(client, merchant, admin, viewer):
    csrf = await signed_in(client, admin)
    await client.post(
        "/dashboard/test/meters/new", data={**FORM, "csrf_token": csrf, "intent": "save"}
    )
    [meter] = await _products(client, merchant)
    client.cookies.clear()
    csrf = await signed_in(client, viewer)
    listed = await client.get("/dashboard/test/meters")
    assert "Chat Pro" in listed.text and "New meter" not in listed.text
    page = await client.get(f"/dashboard/test/meters/{meter['product_id']}")
    assert page.status_code == 200
    assert 'id="meter-form"' not in page.text and 'id="preview-fee"' in page.text
    assert (await client.get("/dashboard/test/meters/new")).status_code == 403
    for url in ("/dashboard/test/meters/new", f"/dashboard/test/meters/{meter['product_id']}"):
        refused = await client.post(
            url, data={**FORM, "csrf_token": csrf, "name": "Hacked", "intent": "save"}
        )
        assert refused.status_code == 403
    assert [m["name"] for m in await _products(client, merchant)] == ["Chat Pro"]


async def test_a_form_without_its_csrf_token_is_refused(client, merchant, admin):
    await signed_in(client, admin)
    forged = await client.post("/dashboard/test/meters/new", data={**FORM, "intent": "save"})
    assert forged.status_code == 403
    assert await _products(client, merchant) == []


async def test_no_meters_yet_shows_a_snippet_with_the_base_url(client, merchant, admin):
    await signed_in(client, admin)
    page = await client.get("/dashboard/live/meters")
    assert "No meters yet" in page.text
    assert "curl http://lava.test/v1/meters" in page.text


async def test_the_list_pages_with_the_api_cursors(client, merchant, admin):
    for n in range(22):
        made = await client.post(
            "/v1/products",
            headers=merchant.headers,
            json={"name": f"M{n}", "tiers": [{"start": 0, "rate": "1", "type": "requests"}]},
        )
        assert made.status_code == 201
    await signed_in(client, admin)
    first = await client.get("/dashboard/test/meters")
    names = set(re.findall(r">(M\d+)</a>", first.text))
    assert names == {f"M{n}" for n in range(2, 22)}
    api = await client.get("/v1/products?limit=20", headers=merchant.headers)
    cursor = api.json()["next_cursor"]
    assert f"?cursor={cursor}" in first.text
    second = await client.get(f"/dashboard/test/meters?cursor={cursor}")
    assert set(re.findall(r">(M\d+)</a>", second.text)) == {"M0", "M1"}
    assert (await client.get("/dashboard/test/meters?cursor=bad")).status_code == 400
