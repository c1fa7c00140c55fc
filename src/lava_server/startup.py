"""Starting the `lava` command: the checks it makes before it changes anything, and the one or two
lines it prints when starting fails.

A failure the operator can fix (a bad setting, a database that cannot be reached, a busy port) is a
`StartupError`: what is wrong, then how to fix it. The command prints it and exits with status 2
(`cli.py`); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import asyncio
import difflib
import errno
import socket
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from pydantic import ValidationError

from lava_server.db.engine import Database, async_url
from lava_server.db.migrate import upgrade
from lava_server.errors import field_path
from lava_server.model_prices.book import PriceBook, PriceOverrideError
from lava_server.proxy.upstream import DEFAULT_REGISTRY, origins_from_env, provider_env_suffix
from lava_server.settings import Settings

E = TypeVar("E", bound=BaseException)

_DATABASE_OPTION = "--database-url or LAVA_DATABASE_URL"
# Where each setting that a command line option can also give comes from.
_OPTIONS = {
    "database_url": _DATABASE_OPTION,
    "host": "--host or LAVA_HOST",
    "port": "--port or LAVA_PORT",
}
_PROVIDER_FAMILIES = ("UPSTREAM_", "PROVIDER_KEY_")
# `LAVA_*` variables that are not the server's: the SDK's, and the test tooling's.
_NOT_OURS = frozenset({"LAVA_SECRET_KEY", "LAVA_BASE_URL", "LAVA_LOG"})
_NOT_OURS_PREFIXES = ("LAVA_TEST_", "LAVA_SDK_TEST_")


class StartupError(Exception):
    """A reason the command cannot start that the operator can fix."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}\n{fix}")
        self.problem = problem
        self.fix = fix


# ------------------------------------------------------------------------------- the environment


@dataclass(frozen=True)
class UnknownVariable:
    """A `LAVA_*` variable that nothing reads, and the valid name closest to it."""

    name: str
    closest: str | None
    provider: str | None  # the unknown `<PROVIDER>` of `LAVA_UPSTREAM_<PROVIDER>`-like names

    def describe(self) -> str:
        if self.provider is None:
            what = f"{self.name} is not a lava setting (ignored)"
        else:
            what = f"{self.name}: unknown provider {self.provider}"
        return f"{what}; did you mean {self.closest}?" if self.closest else what


def unknown_variables(environ: Mapping[str, str]) -> list[UnknownVariable]:
    """The `LAVA_*` variables of `environ` that are neither settings nor per-provider variables
    of a known provider (`LAVA_UPSTREAM_OPENAI`), nor the SDK's or the test tooling's."""
    valid = {name.removeprefix("LAVA_") for name in Settings.variable_names()}
    providers = {provider_env_suffix(name) for name in DEFAULT_REGISTRY.names}
    valid |= {family + provider for family in _PROVIDER_FAMILIES for provider in providers}
    run_together = {name.upper() for name in DEFAULT_REGISTRY.names}  # GOOGLEOPENAICOMPATIBLE
    found: list[UnknownVariable] = []
    for variable in sorted(environ):
        name = variable.upper()
        if not name.startswith("LAVA_") or name in _NOT_OURS or name.startswith(_NOT_OURS_PREFIXES):
            continue
        suffix = name.removeprefix("LAVA_")
        family = next((f for f in _PROVIDER_FAMILIES if suffix.startswith(f)), None)
        if family is None:
            if suffix not in valid:
                closest = _closest(suffix, valid)
                found.append(UnknownVariable(variable, closest and f"LAVA_{closest}", None))
            continue
        provider = suffix.removeprefix(family)
        if family + provider in valid or provider in run_together:
            continue
        # Within a family, the closest of its providers (and of its settings, for
        # LAVA_UPSTREAM_CONECT_TIMEOUT).
        closest = _closest(
            provider, {v.removeprefix(family) for v in valid if v.startswith(family)}
        )
        found.append(UnknownVariable(variable, closest and f"LAVA_{family}{closest}", provider))
    return found


def _closest(word: str, candidates: set[str]) -> str | None:
    matches = difflib.get_close_matches(word, sorted(candidates), n=1)
    return matches[0] if matches else None


def refuse_unknown_providers(unknown: list[UnknownVariable]) -> None:
    """`lava serve` does not start with a per-provider variable of an unknown provider: with a
    typo in LAVA_UPSTREAM_OPENAI, that provider's calls would go to the real provider."""
    for variable in unknown:
        if variable.provider is not None:
            raise StartupError(
                variable.describe(),
                "Correct the provider's name or unset the variable: lava serve does not start "
                "with it.",
            )


def check_forward_proxy(settings: Settings) -> None:
    """What the forward proxy of every server process would refuse, found once, before anything
    is created: an upstream origin that is not one, a model price file that cannot be used."""
    try:
        origins_from_env(Settings.family_env())
    except ValueError as error:
        raise StartupError(
            f"{error}.", "Give the origin alone, e.g. LAVA_UPSTREAM_OPENAI=http://127.0.0.1:9100."
        ) from None
    try:
        PriceBook.from_file(settings.model_prices_file)
    except PriceOverrideError as error:
        raise StartupError(
            f"{error}.", "Fix the file, or LAVA_MODEL_PRICES_FILE (empty: no price file)."
        ) from None


# ---------------------------------------------------------------------------------- the settings


def load_settings(**values: Any) -> Settings:
    """The settings, from `values` (command line options) and the environment."""
    try:
        return Settings(**values)
    except ValidationError as error:
        first = error.errors()[0]
        field = field_path(first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ").removeprefix(f"{field} ")
        if not field:
            raise StartupError(
                f"Invalid settings: {message}.", "Fix the LAVA_* variables."
            ) from None
        source = _OPTIONS.get(field, f"LAVA_{field.upper()}")
        raise StartupError(f"Invalid setting {field}: {message}.", f"Fix {source}.") from None


# ------------------------------------------------------------------------------------ the port


def check_port(host: str, port: int, options: tuple[str, str]) -> None:
    """Fail unless `host:port` can be listened on now (checked before anything is changed, so that
    a second server on a busy port creates nothing). `options`: where the operator sets the host
    and the port."""
    host_option, port_option = options
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise StartupError(
            f"Cannot listen on host {host!r}: {error.strerror}.",
            f"Use an address of this machine (127.0.0.1, 0.0.0.0, ::) in {host_option}.",
        ) from None
    for family, kind, proto, _name, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            # As the server will: a port left in TIME_WAIT by a stopped server is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as error:
                raise _port_problem(error, host, port, host_option, port_option) from None


def _port_problem(
    error: OSError, host: str, port: int, host_option: str, port_option: str
) -> StartupError:
    where = f"{host}:{port}"
    if error.errno == errno.EADDRINUSE:
        return StartupError(
            f"Port {port} is already in use on {host}.",
            f"Stop what listens there, or choose another port in {port_option}.",
        )
    if error.errno == errno.EACCES:
        return StartupError(
            f"Not allowed to listen on {where}: ports below 1024 need privileges.",
            f"Choose a port from 1024 up in {port_option} (or run behind a reverse proxy).",
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return StartupError(
            f"Cannot listen on {host}: it is not an address of this machine.",
            f"Use one of its addresses (127.0.0.1, 0.0.0.0, ::) in {host_option}.",
        )
    return StartupError(
        f"Cannot listen on {where}: {error.strerror}.", f"Check {host_option} and {port_option}."
    )


# -------------------------------------------------------------------------------- the database


def open_database(database_url: str) -> None:
    """Connect once, then migrate; a database that cannot be used is a `StartupError`."""
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        directory = Path(url.database).parent
        if not directory.is_dir():
            raise StartupError(
                f"The SQLite database's directory {directory} does not exist.",
                f"Create it (mkdir -p {directory}) or choose another path in {_DATABASE_OPTION}.",
            )
    try:
        # Connecting through the server's own engine first: its errors are the plain ones (the
        # migrations' engine buries an unreadable SQLite file under its worker thread's).
        asyncio.run(_connect(database_url))
        upgrade(database_url)
    except Exception as error:
        problem = _database_problem(error, database_url)
        if problem is None:
            raise
        raise problem from None


async def _connect(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect():
            pass
    finally:
        await db.dispose()


def _database_problem(error: BaseException, database_url: str) -> StartupError | None:
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        found = _find(error, sqlite3.Error)
        if found is None:
            return None
        return StartupError(
            f"Cannot use the SQLite database {url.database}: {found}.",
            f"Check that it and its directory are writable, or choose another path in "
            f"{_DATABASE_OPTION}.",
        )
    server = f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}"
    if (missing := _find(error, asyncpg.InvalidCatalogNameError)) is not None:
        return StartupError(
            f"{server}: {missing}.",
            f"Create it (createdb {url.database}) or fix the database name in {_DATABASE_OPTION}.",
        )
    if (refused := _find(error, asyncpg.InvalidAuthorizationSpecificationError)) is not None:
        return StartupError(
            f"{server} refused the connection: {refused}.",
            f"Fix the user name and password in {_DATABASE_OPTION}.",
        )
    if (denied := _find(error, asyncpg.InsufficientPrivilegeError)) is not None:
        return StartupError(
            f"{server}: {denied}.",
            f"Let user {url.username} create tables in database {url.database}, or use another "
            f"user in {_DATABASE_OPTION}.",
        )
    if (other := _find(error, asyncpg.PostgresError)) is not None:
        return StartupError(f"{server}: {other}.", f"Check that server and {_DATABASE_OPTION}.")
    if (unreachable := _find(error, OSError)) is not None:
        reason = unreachable.strerror or str(unreachable) or type(unreachable).__name__
        return StartupError(
            f"Cannot reach {server}: {reason}.",
            f"Start PostgreSQL there, or fix the host and port in {_DATABASE_OPTION}.",
        )
    return None


def _find(error: BaseException, kind: type[E]) -> E | None:
    """`error` or the first of its causes that is a `kind`."""
    for link in _chain(error):
        if isinstance(link, kind):
            return link
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__
