"""Fixtures of the SDK tests.

Two kinds of tests live here:

- Contract tests (``test_contract.py``) take the ``lava`` fixture: a ``Lava`` or an ``AsyncLava``
  (both are run) talking to a ``backend``. They assert only what the API contract promises, so
  the same assertions run against every backend:

  - ``mock``: ``FakeLavaAPI`` (an in-memory model of the API) behind ``httpx.MockTransport``;
  - ``http``: the same fake over real HTTP on a local port;
  - ``inprocess``: our own ``lava_server`` app in this process (no network), a fresh database
    per test;
  - ``server``: our own ``lava_server`` over real HTTP (a session-wide server on SQLite),
    seeded through its sandbox extensions like ``live`` and subscribed through its hosted page;
  - ``live``: any running server, when ``LAVA_SDK_TEST_BASE_URL`` and
    ``LAVA_SDK_TEST_SECRET_KEY`` are set (a sandbox merchant key). Tests that need objects the
    public API cannot create (a connection, a product, an active subscription) are skipped there
    unless a backend implements the seeding hooks below; to run them on our server, add a backend
    whose hooks use ``lava_server`` services.

- Transport tests (the other files) use ``httpx.MockTransport`` or respx directly to check exact
  requests, retries, errors and configuration.

Backoff sleeps are replaced everywhere by ``sleeps``, which records the delays instead.
"""

from __future__ import annotations

import inspect
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import pytest

from lavapayments import AsyncLava, Lava, NotFoundError
from lavapayments._base_client import AsyncAPIClient, SyncAPIClient

from .fake_api import FakeLavaAPI
from .http_server import serve

T = TypeVar("T")

LIVE_BASE_URL = os.environ.get("LAVA_SDK_TEST_BASE_URL")
LIVE_SECRET_KEY = os.environ.get("LAVA_SDK_TEST_SECRET_KEY")


class Backend(Protocol):
    """A server for the contract tests, and hooks to seed what the public API cannot create."""

    name: str
    base_url: str
    secret_key: str

    def make_http_client(self, *, asynchronous: bool) -> httpx.Client | httpx.AsyncClient | None:
        """The transport to use (``None``: a plain client over the network)."""

    async def create_connection(self, reference_id: str | None = None) -> tuple[str, str]:
        """A new connection with a funded wallet: ``(connection_id, connection_secret)``."""

    async def create_product(self) -> tuple[str, str]:
        """A new product: ``(product_id, product_secret)``."""

    async def create_active_subscription(
        self, subscription_config_id: str, connection_id: str
    ) -> str:
        """Subscribe a connection's wallet to a config (as a completed checkout would)."""


class FakeBackend:
    """``FakeLavaAPI``, in process (``mock``) or over real HTTP (``http``)."""

    def __init__(self, name: str, api: FakeLavaAPI, base_url: str) -> None:
        self.name, self.api, self.base_url, self.secret_key = name, api, base_url, api.secret_key

    def make_http_client(self, *, asynchronous: bool) -> httpx.Client | httpx.AsyncClient | None:
        if self.name != "mock":
            return None
        transport = httpx.MockTransport(self.api)
        return (
            httpx.AsyncClient(transport=transport)
            if asynchronous
            else httpx.Client(transport=transport)
        )

    async def create_connection(self, reference_id: str | None = None) -> tuple[str, str]:
        connection = self.api.add_connection(reference_id)
        return connection["connection_id"], connection["connection_secret"]

    async def create_product(self) -> tuple[str, str]:
        return self.api.add_product()

    async def create_active_subscription(
        self, subscription_config_id: str, connection_id: str
    ) -> str:
        return self.api.add_active_subscription(subscription_config_id, connection_id)


class LiveBackend:
    """A running server: seeds through the self-hosted server's sandbox extensions
    (``POST test_helpers/connections``, ``POST products``), skipping what it cannot seed."""

    name = "live"

    def __init__(self, base_url: str, secret_key: str) -> None:
        self.base_url, self.secret_key = base_url, secret_key

    def make_http_client(self, *, asynchronous: bool) -> None:
        return None

    def seed_client(self) -> AsyncLava:
        return AsyncLava(self.secret_key, base_url=self.base_url)

    async def _post(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        async with self.seed_client() as client:
            try:
                answer: dict[str, Any] = await client.request("POST", path, data=data)
            except NotFoundError:
                pytest.skip(f"the live server has no POST {path} to seed with")
        return answer

    async def create_connection(self, reference_id: str | None = None) -> tuple[str, str]:
        # A phone of its own: a top-up checkout confirms with a code sent to the wallet's phone.
        body: dict[str, Any] = {"balance": "100", "phone": f"+1555{uuid.uuid4().int % 10**7:07d}"}
        if reference_id is not None:
            body["reference_id"] = reference_id
        connection = await self._post("test_helpers/connections", body)
        return connection["connection_id"], connection["connection_secret"]

    async def create_product(self) -> tuple[str, str]:
        product = await self._post(
            "products",
            {"name": "SDK contract", "tiers": [{"start": 0, "rate": "1", "type": "tokens_1m"}]},
        )
        return product["product_id"], product["product_secret"]

    async def create_active_subscription(
        self, subscription_config_id: str, connection_id: str
    ) -> str:
        pytest.skip("the live backend cannot create active subscriptions yet")


class ServerBackend(LiveBackend):
    """Our own server: like ``live``, and it can also subscribe a connection, the way a
    customer does, through a subscription checkout on its hosted page (sandbox card)."""

    name = "server"

    async def create_active_subscription(
        self, subscription_config_id: str, connection_id: str
    ) -> str:
        from tests.checkout.helpers import GOOD_CARD, Page, secret_of

        async with self.seed_client() as client:
            session = await client.checkout_sessions.create(
                checkout_mode="subscription",
                origin_url="https://merchant.example",
                subscription_config_id=subscription_config_id,
                connection_id=connection_id,
            )
            async with self.browser() as browser:
                page = Page(
                    browser, secret_of({"checkout_session_token": session.checkout_session_token})
                )
                await page.post("send_code")  # to the phone on file
                await page.verify()
                done = await page.post("pay", **GOOD_CARD)
                assert done.status_code == 200, done.text
            subscriptions = await client.subscriptions.list_active_subscriptions()
        return next(
            s.active_subscription_id
            for s in subscriptions
            if s.subscription_config_id == subscription_config_id
        )

    def browser(self) -> httpx.AsyncClient:
        """An HTTP client for the hosted pages."""
        return httpx.AsyncClient(base_url=self.base_url.removesuffix("v1/"))


class _AppClient(httpx.AsyncClient):
    """An async client for an app in this process; closing it closes the app's database."""

    def __init__(self, app: Any, db: Any, base_url: str) -> None:
        super().__init__(transport=httpx.ASGITransport(app=app), base_url=base_url)
        self._db = db

    async def aclose(self) -> None:
        await super().aclose()
        await self._db.dispose()


class _ThreadedAppTransport(httpx.BaseTransport):
    """A sync transport to an app in this process: the app runs on an event loop of its own, in
    a thread; each request is handed to it whole and its answer read whole."""

    def __init__(self, app: Any, db: Any) -> None:
        import asyncio
        import threading

        self._db = db
        self._inner = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def _run(self, coroutine: Awaitable[T]) -> T:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()  # type: ignore[arg-type]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def call() -> tuple[int, httpx.Headers, bytes]:
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=request.read()
            )
            answer = await self._inner.handle_async_request(forwarded)
            return answer.status_code, answer.headers, await answer.aread()

        status, headers, body = self._run(call())
        return httpx.Response(status, headers=headers, content=body, request=request)

    def close(self) -> None:
        self._run(self._db.dispose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


class InProcessBackend(ServerBackend):
    """Our server's app in this process, no network: the async client through httpx's
    ASGITransport, the sync client through a transport that runs the app on an event loop of its
    own in a thread. A fresh database per test."""

    name = "inprocess"
    origin = "http://lava.inprocess"

    def __init__(self, database_url: str, secret_key: str) -> None:
        super().__init__(f"{self.origin}/v1/", secret_key)
        self.database_url = database_url

    def _app(self) -> tuple[Any, Any]:
        from lava_server.app import create_app
        from lava_server.db.engine import Database
        from lava_server.settings import Settings

        settings = Settings(database_url=self.database_url, rate_limit_per_minute=1_000_000)
        db = Database(self.database_url)
        return create_app(settings, db), db

    def make_http_client(self, *, asynchronous: bool) -> httpx.Client | httpx.AsyncClient:
        if asynchronous:
            return _AppClient(*self._app(), self.origin)
        return httpx.Client(transport=_ThreadedAppTransport(*self._app()), base_url=self.origin)

    def seed_client(self) -> AsyncLava:
        client = self.make_http_client(asynchronous=True)
        assert isinstance(client, httpx.AsyncClient)
        return AsyncLava(self.secret_key, base_url=self.base_url, http_client=client)

    def browser(self) -> httpx.AsyncClient:
        return _AppClient(*self._app(), self.origin)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lava_server.db.migrate import upgrade

    path = tmp_path_factory.mktemp("sdk-inprocess") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


BACKENDS = ["mock", "http", "server", "inprocess"] + (
    ["live"] if LIVE_BASE_URL and LIVE_SECRET_KEY else []
)


@pytest.fixture(scope="session")
def our_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Our own `lava_server` over real HTTP on a fresh SQLite database, with a sandbox merchant:
    `(base_url, secret_key)`. The contract tests use fresh ids, so one server serves them all."""
    import asyncio

    from lava_server.app import create_app
    from lava_server.db.engine import Database
    from lava_server.db.migrate import upgrade
    from lava_server.merchants import service as merchants
    from lava_server.settings import Settings
    from lava_server.testing.server import serve_in_thread

    url = f"sqlite:///{tmp_path_factory.mktemp('sdk-server') / 'lava.db'}"
    upgrade(url)

    async def bootstrap() -> str:
        db = Database(url)
        try:
            return (await merchants.create_merchant(db, "SDK", livemode=False)).secret_key
        finally:
            await db.dispose()

    secret_key = asyncio.run(bootstrap())
    app = create_app(Settings(database_url=url, rate_limit_per_minute=1_000_000))
    with serve_in_thread(app) as server:
        yield f"{server.url}/v1/", secret_key


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "live":
        assert LIVE_BASE_URL and LIVE_SECRET_KEY
        yield LiveBackend(LIVE_BASE_URL, LIVE_SECRET_KEY)
        return
    if request.param == "server":
        base_url, secret_key = request.getfixturevalue("our_server")
        yield ServerBackend(base_url, secret_key)
        return
    if request.param == "inprocess":
        import asyncio
        import shutil

        from lava_server.db.engine import Database
        from lava_server.merchants import service as merchants

        path = request.getfixturevalue("tmp_path") / "lava.db"
        shutil.copy(request.getfixturevalue("migrated_sqlite"), path)
        url = f"sqlite:///{path}"

        async def bootstrap() -> str:
            db = Database(url)
            try:
                return (await merchants.create_merchant(db, "SDK", livemode=False)).secret_key
            finally:
                await db.dispose()

        yield InProcessBackend(url, asyncio.run(bootstrap()))
        return
    api = FakeLavaAPI()
    if request.param == "mock":
        yield FakeBackend("mock", api, "http://lava.test/v1/")
        return
    with serve(api) as url:
        yield FakeBackend("http", api, f"{url}/v1/")


@pytest.fixture(params=["sync", "async"])
async def lava(request: pytest.FixtureRequest, backend: Backend) -> AsyncIterator[Lava | AsyncLava]:
    """A client of each kind for ``backend``."""
    asynchronous = request.param == "async"
    http_client = backend.make_http_client(asynchronous=asynchronous)
    if asynchronous:
        assert http_client is None or isinstance(http_client, httpx.AsyncClient)
        async with AsyncLava(
            backend.secret_key, base_url=backend.base_url, http_client=http_client
        ) as client:
            yield client
    else:
        assert http_client is None or isinstance(http_client, httpx.Client)
        with Lava(backend.secret_key, base_url=backend.base_url, http_client=http_client) as sync:
            yield sync


@pytest.fixture
def tag() -> str:
    """A fresh suffix for ids and filters, so a test never sees another one's objects."""
    return uuid.uuid4().hex[:12]


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff delays the clients asked for, in order (nothing actually sleeps)."""
    delays: list[float] = []

    def record(self: object, seconds: float) -> None:
        delays.append(seconds)

    async def record_async(self: object, seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(SyncAPIClient, "_sleep", record)
    monkeypatch.setattr(AsyncAPIClient, "_sleep", record_async)
    return delays


@pytest.fixture(autouse=True)
def _no_lava_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the environment they set themselves."""
    for name in ("LAVA_SECRET_KEY", "LAVA_BASE_URL", "LAVA_LOG"):
        monkeypatch.delenv(name, raising=False)


async def call(result: T | Awaitable[T]) -> T:
    """The value of a client call, whichever client made it."""
    if inspect.isawaitable(result):
        return await result
    return result


async def collect(pages: Any) -> list[Any]:
    """Every item reached by iterating a page (``for`` or ``async for``)."""
    if hasattr(pages, "__aiter__"):
        return [item async for item in pages]
    return list(pages)


async def collect_pages(pages: Any) -> list[Any]:
    """Every page reached by ``iter_pages()``."""
    if inspect.isawaitable(pages) and not hasattr(pages, "__aiter__"):
        pages = await pages
    walked = pages.iter_pages()
    if hasattr(walked, "__aiter__"):
        return [page async for page in walked]
    return list(walked)


@pytest.fixture(params=["sync", "async"])
def make_client(request: pytest.FixtureRequest) -> Callable[..., Lava | AsyncLava]:
    """Build a client of each kind answered by an ``httpx`` handler: ``make_client(handler)``."""

    def make(
        handler: Callable[[httpx.Request], httpx.Response], **options: Any
    ) -> Lava | AsyncLava:
        options.setdefault("base_url", "http://lava.test/v1/")
        secret_key = options.pop("secret_key", "aks_test_transport")
        transport = httpx.MockTransport(handler)
        if request.param == "async":
            return AsyncLava(
                secret_key, http_client=httpx.AsyncClient(transport=transport), **options
            )
        return Lava(secret_key, http_client=httpx.Client(transport=transport), **options)

    return make
