"""Start-up failures of the real `lava` command: one or two lines on stderr saying what is wrong
and how to fix it, exit status 2, never a traceback; a busy port found before anything is created;
a warning for each `LAVA_*` variable that nothing reads."""

from __future__ import annotations

import asyncio
import os
import selectors
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from lava_server.db.engine import Database
from lava_server.db.models import Merchant
from tests.e2e.servers import LAVA, clean_env, free_port

pytestmark = pytest.mark.slow


def run_lava(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    prefix: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, LAVA, *args],
        env={**clean_env(), **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit 2, nothing on stdout, one or two lines on stderr holding each of `expected`."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert result.stdout == "", output
    assert 1 <= len(result.stderr.strip().splitlines()) <= 2, output
    for text in expected:
        assert text in result.stderr, output


def database_commands() -> list[tuple[str, ...]]:
    """Every command that touches the database (serve on a free port: the database is at fault)."""
    return [
        ("serve", "--port", str(free_port())),
        ("worker", "--once"),
        ("merchants", "create", "Acme"),
        ("keys", "list"),
        ("products", "list", "--merchant", "mer_nobody"),
        ("ledger", "check"),
    ]


def run_all(
    commands: list[tuple[str, ...]], *extra: str, cwd: Path
) -> list[subprocess.CompletedProcess[str]]:
    """Each command with `extra` arguments, a few at a time."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(lambda command: run_lava(*command, *extra, cwd=cwd), commands))


def test_every_database_command_explains_a_database_it_cannot_open(
    database_url: str, tmp_path: Path
) -> None:
    """PostgreSQL: a wrong database name on the real server; SQLite: a missing directory."""
    if database_url.startswith("sqlite"):
        bad = f"sqlite:///{tmp_path}/missing/lava.db"
        expected: tuple[str, ...] = (f"directory {tmp_path}/missing does not exist", "mkdir -p")
    else:
        name = f"{make_url(database_url).database}_missing"
        bad = make_url(database_url).set(database=name).render_as_string(hide_password=False)
        expected = (f'database "{name}" does not exist', f"createdb {name}", "--database-url")
    results = run_all(database_commands(), "--database-url", bad, cwd=tmp_path)
    assert [result.args[1] for result in results] == [
        "serve",
        "worker",
        "merchants",
        "keys",
        "products",
        "ledger",
    ]
    for result in results:
        assert_refused(result, *expected)
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_wrong_postgresql_user_is_named(database_url: str) -> None:
    url = make_url(database_url).set(username="lava_no_such_role")
    result = run_lava("keys", "list", "--database-url", url.render_as_string(hide_password=False))
    assert_refused(result, 'role "lava_no_such_role" does not exist', "user name and password")


def test_an_unreachable_postgresql_is_named() -> None:
    port = free_port()  # nothing listens there
    result = run_lava("ledger", "check", "--database-url", f"postgresql://lava@127.0.0.1:{port}/x")
    assert_refused(result, f"Cannot reach PostgreSQL at 127.0.0.1:{port}", "Start PostgreSQL there")


def test_an_unusable_sqlite_file_is_named(tmp_path: Path) -> None:
    # Nobody, root included, may create a file in /proc.
    result = run_lava("keys", "list", "--database-url", "sqlite:////proc/lava.db")
    assert_refused(result, "Cannot use the SQLite database /proc/lava.db", "writable")
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("these are notes, not a database\n" * 100)
    result = run_lava("keys", "list", "--database-url", f"sqlite:///{not_a_database}")
    assert_refused(result, "file is not a database", "choose another path")


@pytest.mark.parametrize(
    "url",
    ["postgresql://lava:s3cret@db-host:notaport/lava", "sqlite3:///x"],
)
def test_a_malformed_database_url_is_named(url: str, tmp_path: Path) -> None:
    result = run_lava("merchants", "create", "Acme", "--database-url", url, cwd=tmp_path)
    assert_refused(result, "Invalid setting database_url", "postgresql://user:password@host")
    assert "s3cret" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LAVA_PORT": "http"}, ("Invalid setting port", "Fix --port or LAVA_PORT")),
        (
            {"LAVA_SERVICE_CHARGE_RATE": "2"},
            ("Invalid setting service_charge_rate", "Fix LAVA_SERVICE_CHARGE_RATE"),
        ),
        ({"LAVA_LOG_LEVEL": "loud"}, ("Invalid setting log_level", "Fix LAVA_LOG_LEVEL")),
        (
            {"LAVA_PAYMENT_PROVIDER": "stripe"},
            ("payment_provider=stripe needs stripe_secret_key", "LAVA_"),
        ),
        (
            {"LAVA_MODEL_PRICES_FILE": "/nowhere/prices.toml"},
            ("cannot read the model price file /nowhere/prices.toml", "LAVA_MODEL_PRICES_FILE"),
        ),
    ],
)
def test_an_invalid_setting_is_named_before_creating_anything(
    env: dict[str, str], expected: tuple[str, ...], tmp_path: Path
) -> None:
    port = {"LAVA_PORT": str(free_port())}
    assert_refused(run_lava("serve", env={**port, **env}, cwd=tmp_path), *expected)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LAVA_UPSTREAM_OPENIA", "http://127.0.0.1:9100", "did you mean LAVA_UPSTREAM_OPENAI?"),
        ("LAVA_PROVIDER_KEY_ANTROPIC", "sk-ant-x", "did you mean LAVA_PROVIDER_KEY_ANTHROPIC?"),
        ("LAVA_UPSTREAM_OPENAI", "127.0.0.1:9100", "LAVA_UPSTREAM_OPENAI: invalid upstream origin"),
    ],
)
def test_serve_refuses_a_misspelt_provider_before_creating_anything(
    variable: str, value: str, expected: str, tmp_path: Path
) -> None:
    result = run_lava("serve", "--port", str(free_port()), env={variable: value}, cwd=tmp_path)
    assert_refused(result, expected)
    assert list(tmp_path.iterdir()) == []  # no lava.db


def test_a_busy_port_is_found_before_the_first_merchant_is_created(database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_lava("serve", "--port", str(port), "--database-url", database_url)
    assert_refused(result, f"Port {port} is already in use", "--port or LAVA_PORT")
    assert asyncio.run(count_merchants(database_url)) == 0


async def count_merchants(database_url: str) -> int:
    db = Database(database_url, pool_size=1)
    try:
        async with db.read() as session:
            return int((await session.execute(select(func.count()).select_from(Merchant))).scalar())
    finally:
        await db.dispose()


def test_a_privileged_port_is_named(tmp_path: Path) -> None:
    if int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) <= 80:
        pytest.skip("this machine lets anyone listen on port 80")
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root may listen there: run without that privilege
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv (util-linux) is needed to drop the privilege as root")
        prefix = (setpriv, "--bounding-set=-net_bind_service", "--inh-caps=-net_bind_service")
    result = run_lava("serve", "--port", "80", cwd=tmp_path, prefix=prefix)
    assert_refused(result, "ports below 1024 need privileges", "from 1024 up in --port")
    assert list(tmp_path.iterdir()) == []


def test_a_host_that_is_not_this_machines_is_named(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine; binding to it sends nothing.
    result = run_lava("serve", "--host", "192.0.2.1", "--port", str(free_port()), cwd=tmp_path)
    assert_refused(result, "192.0.2.1: it is not an address of this machine", "--host or LAVA_HOST")
    assert list(tmp_path.iterdir()) == []


def test_the_fake_provider_says_where_it_listens_and_names_a_busy_port() -> None:
    port = free_port()
    process = subprocess.Popen(
        [LAVA, "fake-provider", "--port", str(port)],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=20), "lava fake-provider printed nothing"
        first = process.stdout.readline()
        assert f"Fake provider on http://127.0.0.1:{port}" in first
        assert f"LAVA_UPSTREAM_OPENAI=http://127.0.0.1:{port}" in first
        wait_until_listening(port)
        busy = run_lava("fake-provider", "--port", str(port))
    finally:
        process.terminate()
        process.communicate(timeout=20)
    assert_refused(busy, f"Port {port} is already in use", "another port in --port")


def wait_until_listening(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_unknown_lava_variables_are_warned_about_with_the_closest_name(database_url: str) -> None:
    env = {
        "LAVA_DATABSE_URL": "sqlite:///elsewhere.db",
        "LAVA_UPSTREAM_OPENIA": "http://127.0.0.1:9100",
        # Valid: settings, per-provider variables, the SDK's and the test tooling's.
        "LAVA_UPSTREAM_CONNECT_TIMEOUT": "5",
        "LAVA_PROVIDER_KEY_GOOGLE_OPENAI_COMPATIBLE": "g-1",
        "LAVA_UPSTREAM_GOOGLEOPENAICOMPATIBLE": "http://127.0.0.1:9100",
        "LAVA_SECRET_KEY": "aks_test_x",
        "LAVA_BASE_URL": "http://127.0.0.1:8787/v1/",
        "LAVA_LOG": "info",
        "LAVA_TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1:5432/test",
    }
    result = run_lava("keys", "list", "--json", "--database-url", database_url, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert result.stderr.splitlines() == [
        "Warning: LAVA_DATABSE_URL is not a lava setting (ignored); "
        "did you mean LAVA_DATABASE_URL?",
        "Warning: LAVA_UPSTREAM_OPENIA: unknown provider OPENIA; "
        "did you mean LAVA_UPSTREAM_OPENAI?",
    ]
