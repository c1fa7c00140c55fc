"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from LAVA_TEST_POSTGRES_URL (default: the local `test` database). Each test run
creates its own database next to it, migrates it once, and empties its tables between tests. When
PostgreSQL cannot be reached the PostgreSQL half is skipped (and said so at the end), except under
CI=true, where that is a failure.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import httpx._transports.default
import pytest
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

from lava_server.app import create_app
from lava_server.db.engine import Database
from lava_server.db.migrate import upgrade
from lava_server.db.models import Base
from lava_server.merchants import service as merchants
from lava_server.settings import Settings
from lava_server.testing import ServerThread, create_fake_provider_app, serve_in_thread
from lava_server.testing.fake_provider import FakeProvider
from lava_server.wallets.service import check as ledger_check

# Fails the run when a secret the suite created appears in any log (issue 17): `tests/leaks.py`.
pytest_plugins = ["tests.leaks"]

PG_ADMIN_URL = os.environ.get("LAVA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_pg_problem: str | None = None


@functools.cache
def _verifying_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    """One context per certificate location httpx would read (its arguments are the cache key:
    SSL_CERT_FILE and SSL_CERT_DIR, which httpx consults)."""
    return httpx.create_ssl_context(verify=True)


def _create_ssl_context(
    verify: ssl.SSLContext | str | bool = True, cert: object = None, trust_env: bool = True
) -> ssl.SSLContext:
    """httpx's, except that the default context (verify certificates with certifi's list) is made
    once: every `httpx.Client()` made it anew, loading certifi's 150 certificates, 30 ms of CPU
    a client, and the suite makes thousands of clients (its own, the SDKs', openai's and
    anthropic's). Sharing it is safe here: httpx does not change it after making it, and what
    httpcore sets on it at each TLS connection (the ALPN protocols) it sets again at the next;
    the suite's connections are plain HTTP to 127.0.0.1 anyway."""
    if verify is True and cert is None and trust_env:
        environ = os.environ
        return _verifying_context(environ.get("SSL_CERT_FILE"), environ.get("SSL_CERT_DIR"))
    return httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)  # type: ignore[arg-type]


# Where httpx's transports look the function up; should a new httpx stop doing so, say it here
# rather than silently losing the speed.
assert callable(getattr(httpx._transports.default, "create_ssl_context", None))
httpx._transports.default.create_ssl_context = _create_ssl_context  # type: ignore[assignment]


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_execute(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _pg_skip_or_fail() -> None:
    message = f"PostgreSQL not reachable at {PG_ADMIN_URL} ({_pg_problem})"
    if IN_CI:
        pytest.fail(f"{message}; under CI a missing PostgreSQL is a failure")
    pytest.skip(f"{message}: the PostgreSQL half was skipped")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "lava.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str | None]:
    """A fresh, migrated PostgreSQL database for this test run (None when unreachable)."""
    global _pg_problem
    name = f"lava_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        asyncio.run(_pg_execute(PG_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as exc:
        _pg_problem = f"{type(exc).__name__}: {exc}"
        yield None
        return
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    asyncio.run(_pg_execute(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Emptying the tables between tests: DELETE, children first, and the sequences set back to 1, in
# one round trip. (TRUNCATE ... RESTART IDENTITY did the same in 60-110 ms a test: it makes new
# files for every table and index; DELETE of a test's few rows takes 1-2 ms.)
_EMPTY = "; ".join(
    f"DELETE FROM {table.name}" for table in reversed(Base.metadata.sorted_tables)
) + (
    "; SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) FROM pg_sequences "
    "WHERE schemaname = current_schema()"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "lava.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database_url")
    if url is None:
        _pg_skip_or_fail()
    asyncio.run(_pg_execute(url, _EMPTY))
    return str(url)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
async def db(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """The test's database; when the test is over, `lava ledger check` must find it clean
    (tests that tamper with the ledger on purpose are marked `ledger_tampered`)."""
    database = Database(settings.database_url, pool_size=5)
    try:
        yield database
        if request.node.get_closest_marker("ledger_tampered") is None:
            report = await ledger_check(database)
            if report.problems:
                found = "; ".join(problem.describe() for problem in report.problems[:5])
                pytest.fail(f"lava ledger check after the test: {found}")
    finally:
        await database.dispose()


@pytest.fixture
async def client(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The real app in process, over httpx's ASGI transport."""
    app = create_app(settings, db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lava.test") as http:
        yield http


@dataclass(frozen=True)
class MerchantKey:
    merchant_id: str
    secret_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret_key}"}


@pytest.fixture
async def merchant(db: Database) -> MerchantKey:
    """A sandbox merchant and its `aks_test_` key."""
    key = await merchants.create_merchant(db, "Test merchant", livemode=False)
    return MerchantKey(key.merchant_id, key.secret_key)


@pytest.fixture
async def live_merchant(db: Database) -> MerchantKey:
    key = await merchants.create_merchant(db, "Live merchant", livemode=True)
    return MerchantKey(key.merchant_id, key.secret_key)


@pytest.fixture(scope="module")
def fake_app() -> Starlette:
    """The fake AI provider (`lava fake-provider`) of a test module."""
    return create_fake_provider_app()


@pytest.fixture(scope="module")
def fake_server(fake_app: Starlette) -> Iterator[ServerThread]:
    with serve_in_thread(fake_app) as server:
        yield server


@pytest.fixture
def fake(fake_app: Starlette, fake_server: ServerThread) -> FakeProvider:
    """The fake provider over real HTTP, its record of requests emptied."""
    provider: FakeProvider = fake_app.state.fake_provider
    provider.clear()
    return provider


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `slow` (browsers, whole servers, the demo, the multi-host test) run first:
    the workers then share the many quick ones at the end instead of one worker finishing a
    long test alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Say it last, after pytest's own closing line, so that nobody misses it."""
    if _pg_problem is not None:
        print(
            f"\nNOTE: the PostgreSQL half was SKIPPED: {PG_ADMIN_URL} not reachable "
            f"({_pg_problem}).\nSet LAVA_TEST_POSTGRES_URL, or start PostgreSQL, to run it."
        )
