"""The interactive API reference works without internet: Chromium opens /docs (Swagger UI) and
/redoc (ReDoc) with every request to a host other than the server aborted, and both pages render
every operation of /openapi.json; the pages asked for nothing from another host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from lava_server.app import create_app
from lava_server.settings import Settings
from lava_server.testing.server import ServerThread

pytestmark = pytest.mark.slow


@pytest.fixture
def lava(sqlite_template: Path, tmp_path: Path) -> Iterator[ServerThread]:
    database = tmp_path / "lava.db"
    database.write_bytes(sqlite_template.read_bytes())
    with ServerThread(create_app(Settings(database_url=f"sqlite:///{database}"))) as server:
        yield server


async def _offline_page(browser, outside: list[str]):
    page = await browser.new_page()

    async def only_this_machine(route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_this_machine)
    return page


def _operations(lava: ServerThread) -> list[tuple[str, str]]:
    paths = httpx.get(lava.url + "/openapi.json").json()["paths"]
    return [(method, path) for path, item in paths.items() for method in item]


async def test_swagger_ui_renders_every_operation_offline(browser, lava, artifacts):
    operations = _operations(lava)
    assert ("post", "/v1/forward") in operations
    outside: list[str] = []
    page = await _offline_page(browser, outside)
    await page.goto(lava.url + "/docs")
    await page.locator(".opblock").first.wait_for()
    await page.screenshot(path=artifacts / "docs.png")
    shown = await page.eval_on_selector_all(
        ".opblock",
        "blocks => blocks.map(b => [b.querySelector('.opblock-summary-method').textContent"
        ".toLowerCase(), b.querySelector('.opblock-summary-path').dataset.path])",
    )
    assert sorted(map(tuple, shown)) == sorted(operations)
    assert outside == []


async def test_redoc_renders_every_operation_offline(browser, lava, artifacts):
    operations = _operations(lava)
    outside: list[str] = []
    page = await _offline_page(browser, outside)
    await page.goto(lava.url + "/redoc")
    heading = page.locator("h2", has_text="Forward a call to an AI provider")
    await heading.first.wait_for()
    await page.screenshot(path=artifacts / "redoc.png")
    sections = await page.eval_on_selector_all(
        "[data-section-id^='operation/']", "els => els.map(e => e.dataset.sectionId)"
    )
    assert len(sections) == len(operations)
    forward = page.locator("h2", has_text="metered and billed to a wallet")
    assert await forward.count() == 10  # five methods on each of the two forward paths
    rewrite = page.locator("h2", has_text="of another API shape, translated")
    assert await rewrite.count() == 1  # POST on the rewrite door
    assert outside == []
