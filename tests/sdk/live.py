"""Fixtures for SDK tests against our own server over real HTTP, on SQLite and PostgreSQL (the
``settings`` and ``merchant`` fixtures of tests/conftest.py), with ``Lava`` and ``AsyncLava``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from lava_server.app import create_app
from lava_server.settings import Settings
from lava_server.testing import serve_in_thread
from lavapayments import AsyncLava, Lava


@pytest.fixture
def base_url(settings: Settings) -> Iterator[str]:
    app = create_app(Settings(database_url=settings.database_url, rate_limit_per_minute=1_000_000))
    with serve_in_thread(app) as server:
        yield f"{server.url}/v1/"


@pytest.fixture(params=["sync", "async"])
async def lava(
    request: pytest.FixtureRequest, base_url: str, merchant: object
) -> AsyncIterator[Lava | AsyncLava]:
    secret_key: str = merchant.secret_key  # type: ignore[attr-defined]
    if request.param == "sync":
        client = Lava(secret_key, base_url=base_url, max_retries=0)
        yield client
        client.close()
    else:
        async_client = AsyncLava(secret_key, base_url=base_url, max_retries=0)
        yield async_client
        await async_client.close()
