"""The dashboard in Debian's Chromium (Playwright): sign in with the one-time link and a
password, visit every page in both modes at 375 px and 1440 px (screenshots in
test-artifacts/dashboard/), act through the pages, and never ask another host for anything."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from lava_server import timeutil
from lava_server.app import create_app
from lava_server.dashboard import users
from lava_server.db.engine import Database
from lava_server.merchants import service as merchants
from lava_server.settings import Settings
from lava_server.testing.server import ServerThread
from tests.browser.conftest import browser  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
WIDTHS = {"375": (375, 812), "1440": (1440, 900)}
PASSWORD = "a long browser password"


class Shop:
    """A served app with a merchant, a dashboard admin, and some usage to show."""

    def __init__(self, server: ServerThread, secret_key: str, link: str, customer: str) -> None:
        self.server = server
        self.secret_key = secret_key
        self.link = link
        self.customer = customer

    @property
    def url(self) -> str:
        return self.server.url


async def _seed(database_url: str) -> tuple[str, str, str]:
    db = Database(database_url, pool_size=2)
    try:
        key = await merchants.create_merchant(db, "Acme AI", livemode=False)
        settings = Settings(database_url=database_url)
        _, token = await users.create_user(db, settings, "ana@example.com", key.merchant_id)
        await users.create_user(
            db, settings, "vic@example.com", key.merchant_id, "viewer", PASSWORD
        )
        assert token is not None
        return key.secret_key, token, key.merchant_id
    finally:
        await db.dispose()


def _usage(url: str, secret_key: str) -> str:
    """Three customers' requests spread over the last 12 days (the server's clock set back
    for each report), so that the charts have a shape."""
    headers = {"Authorization": f"Bearer {secret_key}"}
    now = datetime.now(timezone.utc)
    real_clock = timeutil.clock
    with httpx.Client(base_url=url + "/v1/", headers=headers) as api:
        product = api.post(
            "products",
            json={"name": "Chat", "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}]},
        )
        assert product.status_code == 201, product.text
        customers = []
        try:
            for n, name in enumerate(("ada", "bob", "cy")):
                made = api.post(
                    "test_helpers/connections",
                    json={"balance": "25", "reference_id": name, "email": f"{name}@example.com"},
                )
                assert made.status_code == 201, made.text
                customers.append(made.json()["connection_id"])
                for i in range(3 + 2 * n):
                    moment = now - timedelta(days=(i * 5 + n * 2) % 12, hours=i)
                    timeutil.clock = lambda moment=moment: moment
                    report = api.post(
                        "requests",
                        json={
                            "request_id": f"{name}-{i}",
                            "connection_id": customers[-1],
                            "product_id": product.json()["product_id"],
                            "provider": "openai",
                            "model": "gpt-4o-mini" if i % 2 else "gpt-4o",
                            "input_tokens": 60_000 * (i + 1),
                            "output_tokens": 15_000,
                        },
                    )
                    assert report.status_code == 201, report.text
        finally:
            timeutil.clock = real_clock
        return customers[0]


@pytest.fixture
def shop(sqlite_template: Path, tmp_path: Path) -> Iterator[Shop]:
    database = tmp_path / "lava.db"
    database.write_bytes(sqlite_template.read_bytes())
    database_url = f"sqlite:///{database}"
    secret_key, token, _ = asyncio.run(_seed(database_url))
    with ServerThread(create_app(Settings(database_url=database_url))) as server:
        customer = _usage(server.url, secret_key)
        yield Shop(server, secret_key, f"{server.url}/dashboard/sign-in/link/{token}", customer)


async def _context(browser, outside: list[str], width: str):  # noqa: F811
    viewport = WIDTHS[width]
    context = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})

    async def only_this_machine(route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_this_machine)
    return context


_UNLABELLED = """() => Array.from(document.querySelectorAll(
    "input:not([type=hidden]), select, textarea, button, a[href]"))
  .filter(el => {
    const name = (el.labels && el.labels.length ? el.labels[0].textContent : "")
      || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")
      || (el.tagName === "INPUT" ? "" : el.textContent);
    return !name || !name.trim();
  })
  .map(el => el.outerHTML.slice(0, 120))"""


async def _check_accessibility(page, where: str) -> None:
    """Landmarks, one heading 1, and a name for every control and link."""
    assert await page.locator("main").count() == 1, where
    assert await page.locator("header[role=banner]").count() == 1, where
    assert await page.locator("nav[aria-label]").count() >= 2, where
    assert await page.locator("h1").count() == 1, where
    assert await page.evaluate(_UNLABELLED) == [], where


async def _look_at(page, name: str, mode: str, width: str) -> None:
    """What every page must be at every width: accessible, no sideways scroll; then its
    screenshot into `test-artifacts/dashboard/`."""
    await _check_accessibility(page, f"{name} ({mode}, {width})")
    wide = await page.evaluate("document.documentElement.scrollWidth")
    assert wide <= WIDTHS[width][0], f"{name} ({mode}) scrolls sideways at {width}"
    await page.screenshot(path=ARTIFACTS / f"{name}-{mode}-{width}.png", full_page=True)


async def _sign_in_with_link_then_password(page, shop: Shop) -> None:
    await page.goto(shop.link)
    await page.get_by_role("button", name="Continue and sign in").click()
    await page.wait_for_url("**/dashboard/test/account?welcome=1")
    await page.get_by_label("New password").fill(PASSWORD)
    await page.get_by_label("The same again").fill(PASSWORD)
    await page.get_by_role("button", name="Save the password").click()
    await page.locator("#notice").wait_for()


async def _sign_in(page, shop: Shop, email: str) -> None:
    await page.goto(shop.url + "/dashboard/sign-in")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/dashboard/test/")


def _pages(shop: Shop, mode: str) -> dict[str, str]:
    """name -> path under /dashboard/{mode}/ (the customer exists in test mode only)."""
    pages = {
        "overview": "",
        "overview-compare": "?days=7&compare=1",
        "customers": "customers",
        "customers-search": "customers?q=bob%40example.com",
        "account": "account",
    }
    if mode == "test":
        pages["customer"] = f"customers/{shop.customer}"
    return pages


async def test_every_page_in_both_modes_at_both_widths_offline(browser, shop):  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    errors: list[str] = []
    context = await _context(browser, outside, "1440")
    page = await context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    await _sign_in_with_link_then_password(page, shop)
    await context.close()

    for width in WIDTHS:
        context = await _context(browser, outside, width)
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        await _sign_in(page, shop, "ana@example.com")
        for mode in ("test", "live"):
            for name, path in _pages(shop, mode).items():
                answer = await page.goto(f"{shop.url}/dashboard/{mode}/{path}")
                assert answer is not None and answer.status == 200, (mode, name)
                marker = page.locator("#test-mode")
                assert await marker.count() == (1 if mode == "test" else 0)
                if name.startswith("overview"):
                    charts = page.locator("[data-chart][data-drawn='true']")
                    await charts.nth(2).wait_for()
                    assert await charts.count() == 3
                    if mode == "test":
                        await page.locator(".plot .xtick").first.wait_for()
                        assert "ada" in await page.locator("#customers-title + *").inner_text()
                    else:
                        assert await page.locator("#empty-title").count() == 1
                        snippet = await page.locator("#snippet-curl").inner_text()
                        assert f"curl {shop.url}/v1/requests" in snippet
                if name == "customer":
                    await page.locator("[data-chart='usage'][data-drawn='true']").wait_for()
                await _look_at(page, name, mode, width)
        await context.close()
    assert outside == []
    assert errors == []


async def test_the_keyboard_reaches_the_navigation_and_the_mode_switch(browser, shop):  # noqa: F811
    outside: list[str] = []
    context = await _context(browser, outside, "375")
    page = await context.new_page()
    await _sign_in_with_link_then_password(page, shop)
    await page.goto(shop.url + "/dashboard/test/")
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent")
    assert "Skip to content" in focused
    for _ in range(12):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "mode-live":
            break
    else:
        raise AssertionError("the mode switch is not reachable with Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/dashboard/live/")
    assert await page.locator("#test-mode").count() == 0
    assert outside == []
    await context.close()


async def test_granting_credit_through_the_page(browser, shop):  # noqa: F811
    outside: list[str] = []
    context = await _context(browser, outside, "1440")
    page = await context.new_page()
    await _sign_in_with_link_then_password(page, shop)
    await page.goto(f"{shop.url}/dashboard/test/customers")
    await page.get_by_role("link", name="ada").click()
    await page.wait_for_url(f"**/customers/{shop.customer}")
    before = await page.locator("#available").inner_text()
    await page.get_by_label("Amount (USD)", exact=True).fill("abc")
    await page.get_by_label("Reason").first.fill("goodwill")
    await page.get_by_role("button", name="Grant credit").click()
    await page.locator("#grant-error").wait_for()
    assert "amount" in await page.locator("#grant-error").inner_text()
    assert await page.locator("#available").inner_text() == before
    await page.get_by_label("Amount (USD)", exact=True).fill("7.25")
    await page.get_by_role("button", name="Grant credit").click()
    await page.locator("#notice").wait_for()
    assert await page.locator("#notice").inner_text() == "Credit granted."
    after = await page.locator("#available").inner_text()
    assert after != before
    balance = httpx.get(
        f"{shop.url}/v1/connections/{shop.customer}",
        headers={"Authorization": f"Bearer {shop.secret_key}"},
    ).json()["wallet"]["balance"]
    assert after == f"${float(balance):,.2f}"
    await page.screenshot(path=ARTIFACTS / "customer-after-grant-test-1440.png", full_page=True)
    assert outside == []
    await context.close()


async def test_a_viewer_and_a_forged_form_are_refused_in_the_browser(browser, shop):  # noqa: F811
    outside: list[str] = []
    context = await _context(browser, outside, "375")
    page = await context.new_page()
    await _sign_in(page, shop, "vic@example.com")
    await page.goto(f"{shop.url}/dashboard/test/customers/{shop.customer}")
    assert await page.get_by_role("button", name="Grant credit").count() == 0
    # The viewer forges the admin's form with its own valid CSRF token: the server refuses it.
    status = await page.evaluate(
        """async (url) => {
            const csrf = document.querySelector("input[name=csrf_token]").value;
            const body = new URLSearchParams({csrf_token: csrf, amount: "100", reason: "forged"});
            const answer = await fetch(url, {method: "POST", body});
            return answer.status;
        }""",
        f"{shop.url}/dashboard/test/customers/{shop.customer}/grant",
    )
    assert status == 403
    # A form another site would post has no CSRF token: refused as well.
    status = await page.evaluate(
        """async (url) => {
            const body = new URLSearchParams({amount: "100", reason: "forged"});
            return (await fetch(url, {method: "POST", body})).status;
        }""",
        f"{shop.url}/dashboard/test/customers/{shop.customer}/grant",
    )
    assert status == 403
    await page.goto(f"{shop.url}/dashboard/test/customers/{shop.customer}")
    balance = httpx.get(
        f"{shop.url}/v1/connections/{shop.customer}",
        headers={"Authorization": f"Bearer {shop.secret_key}"},
    ).json()["wallet"]["balance"]
    assert float(balance) < 25  # its usage only: nothing was granted
    await page.screenshot(path=ARTIFACTS / "customer-viewer-test-375.png", full_page=True)
    assert outside == []
    await context.close()
