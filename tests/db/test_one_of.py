"""`db.engine.one_of`: `column IN (values)` that PostgreSQL prepares once for any number of
values (one array parameter), with the same answers on both databases."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from lava_server.connections import repository as connections
from lava_server.db.engine import Database
from tests.conftest import MerchantKey
from tests.metering.helpers import make_connection


async def test_lookups_by_many_values_answer_alike_and_prepare_once(
    client: httpx.AsyncClient, db: Database, merchant: MerchantKey
) -> None:
    made = [await make_connection(client, merchant.headers) for _ in range(5)]
    secrets = [c["connection_secret"] for c in made]
    async with db.read() as session:
        for count in range(1, 6):
            asked = [*secrets[:count], secrets[0], "cs_missing"]  # a repeat, an unknown one
            found = await connections.by_secrets(session, asked)
            assert set(found) == set(secrets[:count])
            assert {ref.id for ref in found.values()} == {c["connection_id"] for c in made[:count]}
        if db.engine.dialect.name == "postgresql":
            # The five lookups, of 3 to 7 values, prepared one statement on this connection.
            prepared = (
                await session.execute(
                    text(
                        "SELECT statement FROM pg_prepared_statements "
                        "WHERE statement LIKE 'SELECT connections.secret%'"
                    )
                )
            ).scalars()
            statements = list(prepared)
            assert len(statements) == 1, statements
