"""The Plans and bundles pages over HTTP, on SQLite and PostgreSQL: the list (the Free plan
among them), creating and editing a plan and its bundles through `subscriptions.plans` with the
API's bodies (a bad field shown by that field, nothing saved), and the viewer refused."""

from __future__ import annotations

import html
import re

from tests.dashboard.conftest import signed_in

FORM = {
    "name": "Pro",
    "period_amount": "20.00",
    "billing_interval": "month",
    "included_credit": "15",
    "rollover_type": "full",
    "bundle_rollover_type": "none",
    "bundle_count": "2",
    "bundle-0-name": "Boost",
    "bundle-0-cost": "10.00",
    "bundle-0-credit": "11.00",
    "bundle-1-name": "Mega",
    "bundle-1-cost": "50",
    "bundle-1-credit": "60",
    "default_bundle": "1",
}


async def _plans(client, merchant) -> list[dict]:
    answer = await client.get("/v1/plans?limit=100", headers=merchant.headers)
    return [p for p in answer.json()["data"] if p["name"] != "Free"]


async def test_the_list_shows_the_free_plan_and_a_snippet(client, merchant, admin):
    await signed_in(client, admin)
    page = await client.get("/dashboard/live/plans")
    assert page.status_code == 200
    assert ">Free</a>" in page.text
    assert "Only the Free plan so far" in page.text
    assert "curl http://lava.test/v1/plans" in page.text


async def test_creating_a_plan_with_bundles(client, merchant, admin):
    meter = await client.post(
        "/v1/meters",
        headers=merchant.headers,
        json={
            "name": "Chat",
            "rate_type": "fixed",
            "tier_type": "tokens_1m",
            "tiers": [{"start": "0", "rate": "1"}],
        },
    )
    meter_id = meter.json()["meter_id"]
    csrf = await signed_in(client, admin)
    form = await client.get("/dashboard/test/plans/new")
    assert form.status_code == 200 and f'name="meter-{meter_id}"' in form.text
    made = await client.post(
        "/dashboard/test/plans/new",
        data={**FORM, "csrf_token": csrf, f"meter-{meter_id}": "on", "intent": "save"},
    )
    assert made.status_code == 303, made.text
    [plan] = await _plans(client, merchant)
    assert made.headers["location"].startswith(f"/dashboard/test/plans/{plan['plan_id']}")
    assert plan["period_amount"] == "20.0000000000"
    assert plan["included_credit"] == "15.0000000000"
    assert plan["billing_interval"] == "month"
    assert plan["rollover_type"] == "full" and plan["bundle_rollover_type"] == "none"
    assert plan["linked_meters"] == [{"meter_id": meter_id, "name": "Chat"}]
    bundles = plan["credit_bundles"]
    assert [(b["name"], b["cost"], b["credit_amount"]) for b in bundles] == [
        ("Boost", "10.0000000000", "11.0000000000"),
        ("Mega", "50.0000000000", "60.0000000000"),
    ]
    assert plan["default_auto_top_up_bundle_id"] == bundles[1]["credit_bundle_id"]
    listed = await client.get("/dashboard/test/plans")
    assert "Pro" in listed.text and "Mega" in listed.text and "auto top-up" in listed.text
    assert "$15.00" in listed.text


async def test_bad_fields_are_shown_by_them_and_nothing_is_saved(client, merchant, admin):
    csrf = await signed_in(client, admin)
    cases = {
        "period_amount": ({"period_amount": "20.001"}, 'id="period_amount-error"'),
        "included_credit": ({"included_credit": "25"}, 'id="included_credit-error"'),
        "bundle cost": ({"bundle-1-cost": "0"}, 'id="bundle-1-cost-error"'),
        "name": ({"name": ""}, 'id="name-error"'),
    }
    for what, (change, marker) in cases.items():
        refused = await client.post(
            "/dashboard/test/plans/new", data={**FORM, **change, "csrf_token": csrf}
        )
        assert refused.status_code == 400, what
        assert marker in refused.text, what
        assert 'value="Mega"' in refused.text  # what was typed stays
    api = await client.post(
        "/v1/plans",
        headers=merchant.headers,
        json={
            "name": "x",
            "period_amount": "10",
            "billing_interval": "month",
            "included_credit": "25",
        },
    )
    page = await client.post(
        "/dashboard/test/plans/new",
        data={**FORM, "period_amount": "10", "included_credit": "25", "csrf_token": csrf},
    )
    assert api.json()["error"]["message"] in html.unescape(page.text)
    assert api.status_code == page.status_code == 400
    assert await _plans(client, merchant) == []


async def test_the_bundle_rows_are_added_and_removed(client, merchant, admin):
    csrf = await signed_in(client, admin)
    added = await client.post(
        "/dashboard/test/plans/new", data={**FORM, "csrf_token": csrf, "intent": "add-bundle"}
    )
    assert 'id="bundle-2-name"' in added.text
    removed = await client.post(
        "/dashboard/test/plans/new",
        data={**FORM, "csrf_token": csrf, "intent": "remove-bundle-0"},
    )
    assert 'id="bundle-1-name"' not in removed.text and 'value="Mega"' in removed.text
    assert await _plans(client, merchant) == []


async def test_editing_a_plan_and_its_bundles(client, merchant, admin):
    csrf = await signed_in(client, admin)
    await client.post("/dashboard/test/plans/new", data={**FORM, "csrf_token": csrf})
    [plan] = await _plans(client, merchant)
    url = f"/dashboard/test/plans/{plan['plan_id']}"
    page = await client.get(url)
    assert page.status_code == 200 and 'value="Boost"' in page.text
    boost, mega = (b["credit_bundle_id"] for b in plan["credit_bundles"])
    edit = {
        "csrf_token": csrf,
        "name": "Pro Plus",
        "included_credit": "18",
        "rollover_type": "none",
        "bundle_rollover_type": "full",
        "bundle_count": "3",
        "bundle-0-id": boost,
        "bundle-0-name": "Boost",
        "bundle-0-cost": "12",
        "bundle-0-credit": "13",
        "bundle-1-id": mega,
        "bundle-1-name": "Mega",
        "bundle-1-cost": "50",
        "bundle-1-credit": "60",
        "bundle-1-delete": "on",
        "bundle-2-name": "Tiny",
        "bundle-2-cost": "1",
        "bundle-2-credit": "1",
        "default_bundle": boost,
        "intent": "save",
    }
    saved = await client.post(url, data=edit)
    assert saved.status_code == 303, saved.text
    [after] = await _plans(client, merchant)
    assert after["name"] == "Pro Plus" and after["included_credit"] == "18.0000000000"
    assert after["rollover_type"] == "none" and after["bundle_rollover_type"] == "full"
    assert after["period_amount"] == "20.0000000000"
    assert [(b["name"], b["cost"]) for b in after["credit_bundles"]] == [
        ("Boost", "12.0000000000"),
        ("Tiny", "1.0000000000"),
    ]
    assert after["default_auto_top_up_bundle_id"] == boost
    refused = await client.post(url, data={**edit, "included_credit": "21", "bundle-1-delete": ""})
    assert refused.status_code == 400 and 'id="included_credit-error"' in refused.text
    assert await _plans(client, merchant) == [after]


async def test_a_viewer_sees_plans_but_is_refused_on_the_server(client, merchant, admin, viewer):
    csrf = await signed_in(client, admin)
    await client.post("/dashboard/test/plans/new", data={**FORM, "csrf_token": csrf})
    [plan] = await _plans(client, merchant)
    client.cookies.clear()
    csrf = await signed_in(client, viewer)
    listed = await client.get("/dashboard/test/plans")
    assert "Pro" in listed.text and "New plan" not in listed.text
    page = await client.get(f"/dashboard/test/plans/{plan['plan_id']}")
    assert page.status_code == 200 and 'id="save-plan"' not in page.text
    assert (await client.get("/dashboard/test/plans/new")).status_code == 403
    for url in ("/dashboard/test/plans/new", f"/dashboard/test/plans/{plan['plan_id']}"):
        refused = await client.post(url, data={**FORM, "csrf_token": csrf, "name": "Hacked"})
        assert refused.status_code == 403
    forged = await client.post("/dashboard/test/plans/new", data=FORM)
    assert forged.status_code == 403
    assert [p["name"] for p in await _plans(client, merchant)] == ["Pro"]


async def test_the_list_pages_with_the_api_cursors(client, merchant, admin):
    for n in range(21):
        made = await client.post(
            "/v1/plans",
            headers=merchant.headers,
            json={"name": f"P{n}", "period_amount": "1", "billing_interval": "month"},
        )
        assert made.status_code == 201
    await signed_in(client, admin)
    first = await client.get("/dashboard/test/plans")
    # The Free plan is made on the first visit: the newest, so first.
    shown = set(re.findall(r">(P\d+|Free)</a>", first.text))
    assert shown == {"Free"} | {f"P{n}" for n in range(2, 21)}
    api = await client.get("/v1/plans?limit=20", headers=merchant.headers)
    cursor = api.json()["next_cursor"]
    assert f"?cursor={cursor}" in first.text
    second = await client.get(f"/dashboard/test/plans?cursor={cursor}")
    assert set(re.findall(r">(P\d+|Free)</a>", second.text)) == {"P0", "P1"}
    assert (await client.get("/dashboard/test/plans?cursor=bad")).status_code == 400
