"""`lava backup` and `lava restore` of a SQLite database, through SQLite's online backup API:
the copy is consistent even while `lava serve` writes (it copies a few pages at a time and
starts over on its own when a writer changed a page already copied). PostgreSQL is backed up
with its own tools (`pg_dump`, `pg_restore`; `docs/deploy.md#backups`)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

_PAGES_PER_STEP = 1024  # about 4 MB: the writer waits at most one step's copy


class BackupError(Exception):
    """What stops a backup or a restore, said so that the operator can fix it."""


@dataclass(frozen=True)
class Copied:
    path: Path
    bytes: int
    tables: dict[str, int]  # rows per table of the copy


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL; None for another database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if url.database in (None, "", ":memory:"):
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    return Path(url.database)


def backup_sqlite(source: Path, target: Path, *, force: bool = False) -> Copied:
    """Copy the live database `source` to `target` (a new file, unless `force`)."""
    if not source.is_file():
        raise BackupError(f"No SQLite database at {source}.")
    _check_target(target, force, what="backup")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with _connect(source) as reader, _connect(partial) as writer:
        reader.backup(writer, pages=_PAGES_PER_STEP)
        writer.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    os.replace(partial, target)
    return Copied(target, target.stat().st_size, _check(target))


def restore_sqlite(backup: Path, target: Path) -> Copied:
    """Write the backup `backup` over `target` (the caller checked that nothing serves it)."""
    if not backup.is_file():
        raise BackupError(f"No backup at {backup}.")
    tables = _check(backup)
    if "alembic_version" not in tables:
        raise BackupError(f"{backup} is a SQLite file but not a lava database.")
    with _connect(backup, read_only=True) as reader, _connect(target) as writer:
        reader.backup(writer, pages=_PAGES_PER_STEP)
    return Copied(target, target.stat().st_size, tables)


def pg_dump(database_url: str, target: Path, *, force: bool = False) -> str:
    """Run `pg_dump` (custom format) to `target`; returns the command as run, password left
    out. A `BackupError` when `pg_dump` is missing says what to run instead."""
    _check_target(target, force, what="backup")
    program = shutil.which("pg_dump")
    url = make_url(database_url)
    if program is None:
        raise BackupError(
            "pg_dump is not installed here. Back up PostgreSQL with its own tool, from any host "
            f"that reaches it: pg_dump --format=custom --file {target} "
            f"--host {url.host or 'localhost'} --port {url.port or 5432} "
            f"--username {url.username or 'postgres'} {url.database}"
        )
    command = [
        program,
        "--format=custom",
        "--file",
        str(target),
        "--host",
        url.host or "localhost",
        "--port",
        str(url.port or 5432),
        "--username",
        url.username or "postgres",
        "--no-password",
        url.database or "postgres",
    ]
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = url.password  # never on the command line, where `ps` shows it
    # The program found on PATH, with the URL's parts as separate arguments (no shell).
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    return " ".join(command)


def _check_target(target: Path, force: bool, *, what: str) -> None:
    if target.exists() and not force:
        raise BackupError(f"{target} exists; choose a new path for the {what}, or --force.")
    if not target.parent.is_dir():
        raise BackupError(f"The directory {target.parent} does not exist.")


def _check(path: Path) -> dict[str, int]:
    """SQLite's integrity check of `path`, then its rows per table."""
    try:
        return _checked(path)
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a usable SQLite database: {error}.") from None


def _checked(path: Path) -> dict[str, int]:
    with _connect(path, read_only=True) as connection:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()
        if verdict is None or verdict[0] != "ok":
            raise BackupError(f"{path} fails SQLite's integrity check: {verdict}.")
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        # The names come from sqlite_master itself, quoted.
        count = 'SELECT count(*) FROM "{}"'
        return {
            name: int(connection.execute(count.format(name.replace('"', '""'))).fetchone()[0])
            for name in sorted(names)
        }


class _connect:
    """A plain `sqlite3` connection, closed on exit (sqlite3's own context manager only ends
    the transaction)."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        if read_only:
            self.connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        else:
            self.connection = sqlite3.connect(path, timeout=30)

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, *_exc: object) -> None:
        self.connection.close()
