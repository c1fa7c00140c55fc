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
