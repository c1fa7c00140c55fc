"""The migrations build exactly the schema of the models (tables, columns, indexes), on both
databases: a model change without its migration fails here."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lava_server.db.engine import Database
from lava_server.db.models import Base


async def test_the_migrated_schema_is_the_models_schema(database_url: str) -> None:
    db = Database(database_url)

    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with db.engine.connect() as connection:
            found = await connection.run_sync(differences)
    finally:
        await db.dispose()
    assert found == []


async def test_the_roll_ups_keep_their_sums_when_they_become_wide(
    tmp_path, pg_database_url
) -> None:
    """Migration 0004 moves the roll-ups' sums to wide columns: what was there reads the same."""
    import asyncio
    import uuid

    import asyncpg
    from alembic import command
    from sqlalchemy import select, text
    from sqlalchemy.engine import make_url

    from lava_server.db.migrate import alembic_config, upgrade
    from lava_server.db.models import UsageBucket

    urls = [f"sqlite:///{tmp_path / 'old.db'}"]
    admin = None
    if pg_database_url is not None:
        name = f"lava_mig_{uuid.uuid4().hex[:8]}"
        admin = make_url(pg_database_url).set(drivername="postgresql")
        connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()
        urls.append(
            make_url(pg_database_url).set(database=name).render_as_string(hide_password=False)
        )
    try:
        for url in urls:
            await asyncio.to_thread(command.upgrade, alembic_config(url), "0003")
            db = Database(url)
            async with db.write() as session:
                # SQLite stored money as integer 1e-10 dollars; PostgreSQL as NUMERIC
                money = "12345678901234567" if db.is_sqlite else "1234567.8901234567"
                await session.execute(
                    text(
                        "INSERT INTO usage_buckets VALUES ('mer', false, '', '', 900, 3, "
                        f"4000000000000000000, {money}, {money}, 0, {money}, 0, 0)"
                    )
                )
            await db.dispose()
            upgrade(url)
            db = Database(url)
            async with db.read() as session:
                row = (await session.execute(select(UsageBucket))).scalar_one()
            await db.dispose()
            assert row.total_requests == 3
            assert row.total_usage_tokens == 4 * 10**18
            assert str(row.total_usage_cost) == "1234567.8901234567"
            assert str(row.total_request_cost) == "1234567.8901234567"
            assert str(row.total_wallet_cost) == "0E-10"
    finally:
        if admin is not None:
            connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.close()
