"""SQLite's query plans of the statements some work runs: to check that it searches indexes
instead of scanning tables that grow (PostgreSQL's plans depend on its statistics)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import sqlite

from lava_server.db.engine import Database


async def sqlite_plans(
    sqlite_template: Path, tmp_path: Path, work: Callable[[Database], Awaitable[Any]]
) -> dict[str, str]:
    """Run `work` on a fresh SQLite database made from the migrated template; each statement
    it ran -> its plan (EXPLAIN QUERY PLAN with the same parameters, one line per step)."""
    path = tmp_path / "plans.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}", pool_size=1)
    ran: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        ran.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        await work(db)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        await db.dispose()
    plans: dict[str, str] = {}
    for statement, parameters in ran:
        if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            plans[statement] = _explain(path, statement, parameters)
    return plans


def sqlite_plan(statement: Any, sqlite_template: Path) -> str:
    """The plan of one statement built by SQLAlchemy, compiled for SQLite with its values."""
    compiled = statement.compile(
        dialect=sqlite.dialect(), compile_kwargs={"render_postcompile": True}
    )
    values = [str(compiled.params[name]) for name in compiled.positiontup]
    return _explain(sqlite_template, str(compiled), values)


def _explain(database: Path, statement: str, parameters: Any) -> str:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
    return "\n".join(row[-1] for row in rows)
