"""The Checkout, Keys, Webhooks and Settings pages in Debian's Chromium (Playwright): each page
in both modes at 375 px and 1440 px (screenshots in test-artifacts/dashboard/), a key created
and revoked through the page, a webhook delivery resent through the page to a receiver on a
loopback port, checkout tried in both modes; no request ever leaves this machine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lava_server.app import create_app
from lava_server.settings import Settings
from lava_server.testing import ServerThread, serve_in_thread
from tests.browser.conftest import browser  # noqa: F401  (the fixture)
from tests.dashboard.test_dashboard_in_chromium import (
    ARTIFACTS,
    WIDTHS,
    _context,
    _look_at,
    _seed,
    _sign_in,
    _sign_in_with_link_then_password,
)
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow


class Shop:
    """A served app (sandbox webhooks may use http to loopback) with a merchant, a dashboard
    admin (ana, signed in first by the link) and viewer (vic), a webhook endpoint with one
    delivery, and a receiver that answers 500 to its first request, then 200."""

    def __init__(
        self,
        server: ServerThread,
        receiver: Receiver,
        receiver_url: str,
        secret_key: str,
        link: str,
        made_at: float,
    ) -> None:
        self.server = server
        self.receiver = receiver
        self.receiver_url = receiver_url
        self.secret_key = secret_key
        self.link = link
        self.made_at = made_at
        self.webhook_id = ""

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.secret_key}"}
        return httpx.Client(base_url=self.url + "/v1/", headers=headers)


@pytest.fixture
def shop(sqlite_template: Path, tmp_path: Path) -> Iterator[Shop]:
    database = tmp_path / "lava.db"
    database.write_bytes(sqlite_template.read_bytes())
    database_url = f"sqlite:///{database}"
    made_at = time.monotonic()
    secret_key, token, _ = asyncio.run(_seed(database_url))
    receiver = Receiver(answer=lambda n: 500 if n == 1 else 200)
    settings = Settings(
        database_url=database_url, webhooks_allow_http=True, webhook_poll_seconds=0.2
    )
    with (
        serve_in_thread(receiver.app()) as receiving,
        ServerThread(create_app(settings)) as server,
    ):
        shop = Shop(
            server,
            receiver,
            receiving.url,
            secret_key,
            f"{server.url}/dashboard/sign-in/link/{token}",
            made_at,
        )
        with shop.api() as api:
            made = api.post(
                "webhooks", json={"name": "listed", "url": "https://hooks.example/lava"}
            )
            assert made.status_code == 201, made.text
            shop.webhook_id = made.json()["webhook_id"]
            assert api.post(f"webhooks/{shop.webhook_id}/test").status_code == 200
            spend = api.post(
                "spend_keys",
                json={"name": "Listed key", "spend_limit": {"amount": "5", "cycle": "monthly"}},
            )
            assert spend.status_code == 201, spend.text
        yield shop


def _pages(shop: Shop, mode: str) -> dict[str, str]:
    pages = {"checkout": "checkout", "keys": "keys", "webhooks": "webhooks", "settings": "settings"}
    if mode == "test":
        pages["webhook"] = f"webhooks/{shop.webhook_id}"
    return pages


async def _signed_in_context(browser, shop: Shop, outside: list[str], width: str):  # noqa: F811
    context = await _context(browser, outside, width)
    page = await context.new_page()
    await _sign_in(page, shop, "ana@example.com")  # type: ignore[arg-type]
    return context, page


async def test_the_pages_in_both_modes_at_both_widths_offline(browser, shop):  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    errors: list[str] = []
    context = await _context(browser, outside, "1440")
    page = await context.new_page()
    await _sign_in_with_link_then_password(page, shop)  # type: ignore[arg-type]
    await context.close()
    for width in WIDTHS:
        context, page = await _signed_in_context(browser, shop, outside, width)
        page.on("pageerror", lambda error: errors.append(str(error)))
        for mode in ("test", "live"):
            for name, path in _pages(shop, mode).items():
                answer = await page.goto(f"{shop.url}/dashboard/{mode}/{path}")
                assert answer is not None and answer.status == 200, (mode, name)
                assert await page.locator("#test-mode").count() == (1 if mode == "test" else 0)
                nav = page.get_by_role("navigation", name="Dashboard")
                section = "webhooks" if name == "webhook" else name
                current = nav.locator("[aria-current='page']")
                assert await current.get_attribute("href") == f"/dashboard/{mode}/{section}"
                if mode == "live" and name == "checkout":
                    snippet = await page.locator("#snippet-checkout").inner_text()
                    assert f"curl {shop.url}/v1/checkout_sessions" in snippet
                    assert await page.locator("#live-not-configured").count() == 1
                if mode == "live" and name == "webhooks":
                    snippet = await page.locator("#snippet-webhook").inner_text()
                    assert f"curl {shop.url}/v1/webhooks" in snippet
                if mode == "test" and name == "keys":
                    assert await page.locator("#spend-title ~ .table-wrap").count() == 1
                    assert (
                        "Listed key"
                        in await page.locator("#spend-title ~ .table-wrap").inner_text()
                    )
                await _look_at(page, name, mode, width)
        await context.close()
    assert outside == []
    assert errors == []


async def test_creating_and_revoking_keys_through_the_page(browser, shop):  # noqa: F811
    outside: list[str] = []
    context = await _context(browser, outside, "1440")
    page = await context.new_page()
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await _sign_in_with_link_then_password(page, shop)  # type: ignore[arg-type]
    await page.goto(f"{shop.url}/dashboard/test/keys")
    await page.get_by_label("Name of the new secret key").fill("Deploy bot")
    await page.get_by_role("button", name="Create the secret key").click()
    await page.locator("#shown-once").wait_for()
    new_key = (await page.locator("#new-secret").inner_text()).strip()
    assert new_key.startswith("aks_test_")
    await page.screenshot(path=ARTIFACTS / "keys-created-test-1440.png", full_page=True)
    with shop.api(new_key) as api:
        assert api.get("secret_keys").status_code == 200
    await page.get_by_role("link", name="Done: I have copied it").click()
    await page.wait_for_url("**/dashboard/test/keys")
    assert new_key not in await page.content()
    # The first key is revoked through the page, once past the API's 15 s cool-down.
    await asyncio.sleep(max(0.0, 16 - (time.monotonic() - shop.made_at)))
    hint = shop.secret_key[-4:]
    await page.get_by_role("button", name=f"Revoke the secret key Secret key ({hint})").click()
    await page.locator("#notice").wait_for()
    assert "revoked" in await page.locator("#notice").inner_text()
    with shop.api() as old, shop.api(new_key) as new:
        assert old.get("secret_keys").status_code == 401
        assert [k["name"] for k in new.get("secret_keys").json()["data"]] == ["Deploy bot"]
    shop.secret_key = new_key

    # A spend key: created (shown once), then revoked.
    await page.get_by_label("Name of the new spend key").fill("Browser key")
    await page.get_by_label("Spend limit (USD, optional)").fill("3")
    await page.get_by_role("button", name="Create the spend key").click()
    await page.locator("#shown-once").wait_for()
    raw = (await page.locator("#new-secret").inner_text()).strip()
    assert raw.startswith("lava_sk_")
    await page.goto(f"{shop.url}/dashboard/test/keys")
    assert raw not in await page.content()
    await page.get_by_role("button", name="Revoke the spend key Browser key").click()
    await page.locator("#notice").wait_for()
    with shop.api() as api:
        names = [k["name"] for k in api.get("spend_keys").json()["data"]]
    assert names == ["Listed key"]
    await page.screenshot(path=ARTIFACTS / "keys-after-revoke-test-1440.png", full_page=True)
    assert outside == []
    await context.close()


async def _reload_until(page, text: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while text not in await page.content():
        assert time.monotonic() < deadline, f"{text!r} never showed"
        await asyncio.sleep(0.3)
        await page.reload()


async def test_resending_a_webhook_delivery_through_the_page(browser, shop):  # noqa: F811
    outside: list[str] = []
    context = await _context(browser, outside, "375")
    page = await context.new_page()
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await _sign_in_with_link_then_password(page, shop)  # type: ignore[arg-type]
    await page.goto(f"{shop.url}/dashboard/test/webhooks")
    await page.get_by_label("Name of the endpoint").fill("local")
    await page.get_by_label("URL").fill(f"{shop.receiver_url}/hook/local")
    await page.get_by_role("button", name="Add the endpoint").click()
    await page.locator("#shown-once").wait_for()
    secret = (await page.locator("#new-secret").inner_text()).strip()
    assert secret.startswith("whsec_test_")
    shop.receiver.secrets["local"] = secret
    await page.get_by_role("link", name="Open the endpoint").click()
    await page.get_by_role("button", name="Send a test event").click()
    await page.locator("#notice").wait_for()
    await _reload_until(page, "HTTP 500")  # the receiver refuses the first one
    delivery = page.locator("tbody tr").first
    assert "ping" in await delivery.inner_text()
    await page.screenshot(path=ARTIFACTS / "webhook-failed-test-375.png", full_page=True)
    await delivery.get_by_role("button", name="Resend").click()
    await page.locator("#notice").wait_for()
    assert "is sent again now" in await page.locator("#notice").inner_text()
    await _reload_until(page, "HTTP 200")
    assert await page.locator("tbody tr .delivery-status").first.inner_text() == "delivered"
    assert await page.locator("tbody tr .attempt-count").first.inner_text() == "2"
    # What the receiver got verifies with the secret the page showed once.
    assert [event["type"] for event in shop.receiver.events("local")] == ["ping"]
    await page.screenshot(path=ARTIFACTS / "webhook-resent-test-375.png", full_page=True)
    # Disabled through the page, enabled again.
    await page.get_by_role("button", name="Disable").click()
    await page.locator("#endpoint-status").get_by_text("disabled").wait_for()
    await page.get_by_role("button", name="Enable").click()
    await page.locator("#endpoint-status").get_by_text("enabled").wait_for()
    assert outside == []
    await context.close()


async def test_trying_checkout_in_both_modes_and_a_viewer_refused(browser, shop):  # noqa: F811
    outside: list[str] = []
    context = await _context(browser, outside, "375")
    page = await context.new_page()
    await _sign_in_with_link_then_password(page, shop)  # type: ignore[arg-type]
    await page.goto(f"{shop.url}/dashboard/test/checkout")
    await page.get_by_label("Reference id (optional)").fill("browser-try")
    await page.get_by_role("button", name="Try checkout").click()
    await page.wait_for_url("**/embed/checkout/css_test_*")
    await page.screenshot(path=ARTIFACTS / "checkout-hosted-test-375.png", full_page=True)
    await page.goto(f"{shop.url}/dashboard/test/checkout")
    assert "browser-try" in await page.locator("#sessions-title + *").inner_text()
    await page.goto(f"{shop.url}/dashboard/live/checkout")
    await page.get_by_role("button", name="Try checkout").click()
    await page.locator("#try-error").wait_for()
    assert "Live mode is not configured" in await page.locator("#try-error").inner_text()
    await page.screenshot(path=ARTIFACTS / "checkout-live-refused-375.png", full_page=True)
    await context.close()

    # A viewer: no write control, and the server refuses a forged one.
    context = await _context(browser, outside, "375")
    page = await context.new_page()
    await _sign_in(page, shop, "vic@example.com")  # type: ignore[arg-type]
    await page.goto(f"{shop.url}/dashboard/test/keys")
    assert await page.get_by_role("button", name="Create the secret key").count() == 0
    status = await page.evaluate(
        """async (url) => {
            const csrf = document.querySelector("input[name=csrf_token]").value;
            const body = new URLSearchParams({csrf_token: csrf, name: "forged"});
            return (await fetch(url, {method: "POST", body})).status;
        }""",
        f"{shop.url}/dashboard/test/keys/secret",
    )
    assert status == 403
    with shop.api() as api:
        assert len(api.get("secret_keys").json()["data"]) == 1
    assert outside == []
    await context.close()


async def test_the_keyboard_alone_creates_a_secret_key(browser, shop):  # noqa: F811
    """Tab from the top of the Keys page to its form, type, Enter: the key is shown once."""
    outside: list[str] = []
    context = await _context(browser, outside, "375")
    page = await context.new_page()
    await _sign_in_with_link_then_password(page, shop)  # type: ignore[arg-type]
    await page.goto(f"{shop.url}/dashboard/test/keys")
    for _ in range(40):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "secret-name":
            break
    else:
        raise AssertionError("the new secret key's name is not reachable with Tab")
    await page.keyboard.type("Typed key")
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent")
    assert focused == "Create the secret key"
    await page.keyboard.press("Enter")
    await page.locator("#shown-once").wait_for()
    assert "Typed key" in await page.locator("#once-title").inner_text()
    with shop.api() as api:
        names = {k["name"] for k in api.get("secret_keys").json()["data"]}
    assert names == {"Secret key", "Typed key"}
    assert outside == []
    await context.close()
