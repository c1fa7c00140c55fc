"""When PostgreSQL gives no connection (unreachable, refusing more, or every pooled connection
busy), a request is answered 503 `database_unavailable` with Retry-After, its request id and
the error envelope, on the routed paths and on the fast ones, not 500 as a bug; and the server
answers normally again once a connection is free."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lava_server.app import create_app
from lava_server.db.engine import Database
from lava_server.settings import Settings
from lavapayments.forward_token import encode_forward_token
from tests.conftest import PG_ADMIN_URL, _pg_execute, _pg_skip_or_fail

_NO_CONNECTIONS_ROLE = "lava_test_no_connections"
_TOKEN = encode_forward_token(
    secret_key="aks_test_" + "x" * 40,
    connection_secret="cs_x",
    product_secret="ps_x",
    provider_key="sk-x",
)


@pytest.fixture
def pg_url(pg_database_url: str | None) -> str:
    if pg_database_url is None:
        _pg_skip_or_fail()
    assert pg_database_url is not None
    return pg_database_url


@asynccontextmanager
async def _serving(url: str, **options: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    """The app on the database at `url` (its own pool, `options` its settings), over httpx."""
    app = create_app(Settings(database_url=url, **options))
    db: Database = app.state.lava.db
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lava.test") as http:
            yield http, db
    finally:
        await db.dispose()


async def _assert_unavailable(http: httpx.AsyncClient) -> None:
    key = {"Authorization": "Bearer aks_test_" + "x" * 40}
    answers = [
        await http.get("/v1/connections", headers=key),  # routed
        await http.post(  # the fast path, through the group commit
            "/v1/requests",
            headers=key,
            json={"request_id": "r-1", "connection_secret": "c", "product_secret": "p"},
        ),
        await http.post(  # the forward proxy's fast path
            "/v1/forward/chat/completions?u=https://api.openai.com/v1",
            headers={"Authorization": f"Bearer {_TOKEN}"},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        ),
    ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "database_unavailable", answer.text
        assert answer.headers["retry-after"] == "1"
        assert answer.headers["x-lava-request-id"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_an_unreachable_database_is_answered_503(pg_url: str) -> None:
    url = make_url(pg_url).set(port=_closed_port()).render_as_string(hide_password=False)
    async with _serving(url) as (http, _):
        await _assert_unavailable(http)


async def test_a_database_refusing_more_connections_is_answered_503(pg_url: str) -> None:
    await _pg_execute(
        PG_ADMIN_URL,
        f"DO $$ BEGIN CREATE ROLE {_NO_CONNECTIONS_ROLE} LOGIN CONNECTION LIMIT 0; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    )
    url = make_url(pg_url).set(username=_NO_CONNECTIONS_ROLE).render_as_string(False)
    async with _serving(url) as (http, _):
        await _assert_unavailable(http)


async def test_a_full_pool_is_answered_503_then_serves_again(pg_url: str) -> None:
    # The app's pool: at most 2 connections, waited for 0.2 s.
    async with _serving(pg_url, db_pool_size=1, db_pool_timeout_seconds=0.2) as (http, db):
        held = [await db.engine.connect(), await db.engine.connect()]
        try:
            await _assert_unavailable(http)
        finally:
            for connection in held:
                await connection.close()
        answer = await http.get(
            "/v1/connections", headers={"Authorization": "Bearer aks_test_" + "x" * 40}
        )
        assert answer.status_code == 401, answer.text


async def test_a_short_spell_without_spare_connections_is_waited_out(pg_url: str) -> None:
    """A server with no connection to spare for a moment (here: the role's limit, lifted 0.1 s
    later) is asked again, and the work goes through instead of a 503."""
    role = "lava_test_busy_for_a_moment"
    await _pg_execute(
        PG_ADMIN_URL,
        f"DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        f"ALTER ROLE {role} CONNECTION LIMIT 0",
    )
    db = Database(make_url(pg_url).set(username=role).render_as_string(False), pool_size=1)

    async def lift() -> None:
        await asyncio.sleep(0.1)
        await _pg_execute(PG_ADMIN_URL, f"ALTER ROLE {role} CONNECTION LIMIT -1")

    try:
        lifting = asyncio.create_task(lift())
        async with db.read() as session:
            assert await session.scalar(text("SELECT 1")) == 1
        await lifting
    finally:
        await db.dispose()
