"""SQLite's query plans of the statements some work runs: to check that it searches indexes
instead of scanning tables that grow."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event

from lava_server.db.engine import Database


async def sqlite_plans(db: Database, work: Callable[[], Awaitable[Any]]) -> dict[str, str]:
    """Run `work` on SQLite `db`; each statement it ran -> its plan (EXPLAIN QUERY PLAN with
    the same parameters, one line per step)."""
    assert db.engine.dialect.name == "sqlite"
    ran: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        ran.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        await work()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    path = db.engine.url.database
    assert path
    plans: dict[str, str] = {}
    with sqlite3.connect(path) as connection:
        for statement, parameters in ran:
            if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
                rows = connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
                plans[statement] = "\n".join(row[-1] for row in rows.fetchall())
    return plans
