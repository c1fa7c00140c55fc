"""The Requests, Meters and Plans pages in Debian's Chromium (Playwright): every page in both
modes at 375 px and 1440 px (screenshots in test-artifacts/dashboard/), creating a meter through
its page with the price preview showing the price the API then charges, the CSV export, a viewer
refused on the server, and never a request to another host."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import browser  # noqa: F401  (the fixture)
from tests.dashboard.test_dashboard_in_chromium import (  # noqa: F401  (shop: the fixture)
    ARTIFACTS,
    WIDTHS,
    Shop,
    _context,
    _look_at,
    _sign_in,
    _sign_in_with_link_then_password,
    shop,
)

pytestmark = pytest.mark.slow

# Every field a person fills in has a label (screen readers name it by its label).
UNLABELLED = """() => Array.from(document.querySelectorAll("main input, main select"))
    .filter((field) => field.type !== "hidden" && !field.closest("[aria-hidden=true]"))
    .filter((field) => field.labels.length === 0 && !field.getAttribute("aria-label"))
    .map((field) => field.name || field.id)"""


def _api(served: Shop) -> httpx.Client:
    return httpx.Client(
        base_url=served.url + "/v1/", headers={"Authorization": f"Bearer {served.secret_key}"}
    )


def _pages(served: Shop, mode: str) -> dict[str, str]:
    pages = {
        "requests": "requests",
        "requests-filtered": "requests?customer=bob&model=gpt-4o",
        "meters": "meters",
        "meter-new": "meters/new",
        "plans": "plans",
        "plan-new": "plans/new",
    }
    if mode == "test":
        with _api(served) as api:
            product = api.get("products").json()["data"][0]["product_id"]
            plan = api.post(
                "plans",
                json={
                    "name": "Pro",
                    "period_amount": "20",
                    "billing_interval": "month",
                    "credit_bundles": [{"name": "Boost", "cost": "10", "credit_amount": "10"}],
                },
            )
            assert plan.status_code == 201, plan.text
        pages["meter"] = f"meters/{product}"
        pages["plan"] = f"plans/{plan.json()['plan_id']}"
    return pages


async def test_requests_meters_and_plans_in_both_modes_at_both_widths(browser, shop):  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    errors: list[str] = []
    context = await _context(browser, outside, "1440")
    page = await context.new_page()
    await _sign_in_with_link_then_password(page, shop)
    await context.close()
    pages = {mode: _pages(shop, mode) for mode in ("test", "live")}
    with _api(shop) as api:
        stored = api.get("requests?limit=100").json()["data"]
    bobs = [r for r in stored if r.get("model") == "gpt-4o" and r["request_id"].startswith("bob")]
    assert 0 < len(bobs) < len(stored) <= 25  # one page; the filter leaves some out
    for width in WIDTHS:
        context = await _context(browser, outside, width)
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        await _sign_in(page, shop, "ana@example.com")
        for mode in ("test", "live"):
            for name, path in pages[mode].items():
                answer = await page.goto(f"{shop.url}/dashboard/{mode}/{path}")
                assert answer is not None and answer.status == 200, (mode, name)
                assert await page.locator("#test-mode").count() == (1 if mode == "test" else 0)
                if name == "requests" and mode == "test":
                    assert await page.locator("#requests-table tbody tr").count() == len(stored)
                    await page.locator("details.breakdown summary").first.click()
                    assert (
                        "Service charge"
                        in await page.locator("details.breakdown").first.inner_text()
                    )
                if name == "requests-filtered" and mode == "test":
                    assert await page.locator("#requests-table tbody tr").count() == len(bobs)
                if name == "requests" and mode == "live":
                    snippet = await page.locator("#snippet-request").inner_text()
                    assert f"curl {shop.url}/v1/requests" in snippet
                if name == "meters" and mode == "live":
                    assert (
                        f"curl {shop.url}/v1/meters"
                        in await page.locator("#snippet-meter").inner_text()
                    )
                if name == "meter":
                    assert "This request would cost" in await page.locator("#preview").inner_text()
                unlabelled = await page.evaluate(UNLABELLED)
                assert unlabelled == [], f"{name} ({mode}): fields without a label"
                await _look_at(page, name, mode, width)
        await context.close()
    assert outside == []
    assert errors == []


async def test_creating_a_meter_through_the_page_with_its_price_preview(browser, shop):  # noqa: F811
    outside: list[str] = []
    context = await _context(browser, outside, "375")
    page = await context.new_page()
    await _sign_in_with_link_then_password(page, shop)
    await page.goto(f"{shop.url}/dashboard/test/meters")
    await page.get_by_role("link", name="New meter").click()
    await page.wait_for_url("**/meters/new")
    await page.get_by_label("Name").fill("Browser Chat")
    await page.get_by_label("Tier 1 rate").fill("4")
    await page.get_by_role("button", name="Add a tier").click()
    await page.get_by_label("Tier 2 starts at (units)").fill("1000")
    await page.get_by_label("Tier 2 rate").fill("not a rate")
    await page.get_by_role("button", name="Create the meter").click()
    await page.locator("#tier-1-rate-error").wait_for()  # shown by its field, nothing saved
    with _api(shop) as api:
        assert [p["name"] for p in api.get("products").json()["data"]] == ["Chat"]
    await page.get_by_label("Tier 2 rate").fill("1")
    await page.get_by_label("Input units").fill("800")
    await page.get_by_label("Output units").fill("700")
    await page.get_by_label("Provider cost (USD)").fill("0")  # a report without a model
    # Enter in a field previews (the form's default button), it never removes a tier.
    await page.get_by_label("Provider cost (USD)").press("Enter")
    await page.locator("#preview-total").wait_for()
    assert await page.get_by_label("Tier 2 rate").input_value() == "1"
    # 1500 tokens: 1000 at $4 / 1M and 500 at $1 / 1M = $0.0045, plus the service charge.
    assert await page.locator("#preview-fee").inner_text() == "0.0045000000"
    exact = await page.locator("#preview-exact").inner_text()
    await page.screenshot(path=ARTIFACTS / "meter-preview-test-375.png", full_page=True)
    await page.get_by_role("button", name="Create the meter").click()
    await page.locator("#notice").wait_for()
    assert await page.locator("#notice").inner_text() == "Meter Browser Chat created."
    meter_id = page.url.split("/meters/")[1].split("?")[0]
    with _api(shop) as api:
        customer = api.post("test_helpers/connections", json={"balance": "5"}).json()
        charged = api.post(
            "requests",
            json={
                "request_id": "preview-check",
                "customer_id": customer["connection_id"],
                "meter_id": meter_id,
                "input_tokens": 800,
                "output_tokens": 700,
            },
        )
        assert charged.status_code == 201, charged.text
    assert charged.json()["fee"]["amount"] == "0.0045000000"
    assert charged.json()["total_request_cost"] == exact
    assert Decimal(exact) > Decimal("0.0045")
    assert outside == []
    await context.close()


async def test_the_csv_export_downloads_the_filtered_list(browser, shop):  # noqa: F811
    outside: list[str] = []
    context = await _context(browser, outside, "1440")
    page = await context.new_page()
    await _sign_in_with_link_then_password(page, shop)
    await page.goto(f"{shop.url}/dashboard/test/requests")
    await page.get_by_label("Customer").fill("cy")
    await page.get_by_label("Model").fill("gpt-4o")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/requests?customer=cy*")
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Export CSV (filtered)").click()
    download = await waiting.value
    text = Path(await download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    with _api(shop) as api:
        stored = api.get("requests?customer_id=cy&limit=100").json()["data"]
        wanted = [r["request_id"] for r in stored if r.get("model") == "gpt-4o"]
        assert [r["request_id"] for r in rows] == wanted and len(wanted) >= 2
        for row in rows:
            item = api.get(f"requests/{row['request_id']}").json()
            assert row["fee"] == item["fee"]["amount"]
            assert row["total_request_cost"] == item["total_request_cost"]
    assert outside == []
    await context.close()


async def test_a_viewer_is_refused_creating_a_meter_or_a_plan(browser, shop):  # noqa: F811
    outside: list[str] = []
    context = await _context(browser, outside, "375")
    page = await context.new_page()
    await _sign_in(page, shop, "vic@example.com")
    await page.goto(f"{shop.url}/dashboard/test/meters")
    assert await page.get_by_role("link", name="New meter").count() == 0
    for path, body in (
        (
            "meters/new",
            {"name": "Forged", "tier_count": "1", "tier-0-start": "0", "tier-0-rate": "1"},
        ),
        ("plans/new", {"name": "Forged", "period_amount": "1", "billing_interval": "month"}),
    ):
        status = await page.evaluate(
            """async ([url, fields]) => {
                const csrf = document.querySelector("input[name=csrf_token]").value;
                const body = new URLSearchParams({...fields, csrf_token: csrf, intent: "save"});
                return (await fetch(url, {method: "POST", body})).status;
            }""",
            [f"{shop.url}/dashboard/test/{path}", body],
        )
        assert status == 403, path
    with _api(shop) as api:
        assert [p["name"] for p in api.get("products").json()["data"]] == ["Chat"]
        assert [p["name"] for p in api.get("plans").json()["data"]] == ["Free"]
    assert outside == []
    await context.close()
