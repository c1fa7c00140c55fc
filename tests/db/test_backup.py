"""`lava backup` and `lava restore` (issue 17, point 4): a SQLite database backed up while a
real `lava serve` takes `POST /v1/requests`, restored, its ledger clean, and every report
acknowledged before the backup began in the copy."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.servers import LAVA, clean_env, free_port, lava_cli
from tests.proxy.processes import wait_for

pytestmark = pytest.mark.slow


class Reporter(threading.Thread):
    """Sends reports one after another until stopped; remembers each acknowledged one."""

    def __init__(self, base: str, key: str, connection: str, product: str) -> None:
        super().__init__(daemon=True)
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        self.body = {"connection_secret": connection, "product_secret": product}
        self.acknowledged: list[str] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        sent = 0
        while not self.stopped.is_set():
            sent += 1
            request_id = f"backup-{sent}"
            answer = self.http.post(
                "/v1/requests", json={**self.body, "request_id": request_id, "input_tokens": 1000}
            )
            if answer.status_code == 201:
                self.acknowledged.append(request_id)
        self.http.close()


def test_a_backup_taken_while_serving_restores_clean(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL is backed up with pg_dump: see the test below")
    port = free_port()
    env = {**clean_env(), "LAVA_DATABASE_URL": database_url, "LAVA_LOG_LEVEL": "warning"}
    with (tmp_path / "serve.log").open("ab") as log:
        server = subprocess.Popen(
            [LAVA, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    backup = tmp_path / "backup.db"
    try:
        wait_for(f"{base}/healthz")
        created = lava_cli(
            "merchants", "create", "Backup", "--json", "--database-url", database_url
        )
        merchant = json.loads(created.stdout)
        api = httpx.Client(
            base_url=f"{base}/v1/",
            headers={"Authorization": f"Bearer {merchant['secret_key']}"},
            timeout=30,
        )
        product = api.post(
            "products",
            json={"name": "Chat", "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}]},
        ).json()
        connection = api.post("test_helpers/connections", json={"balance": "1000"}).json()
        api.close()
        reporter = Reporter(
            base, merchant["secret_key"], connection["connection_secret"], product["product_secret"]
        )
        reporter.start()
        deadline = time.monotonic() + 30
        while len(reporter.acknowledged) < 50:
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.05)
        before = list(reporter.acknowledged)  # acknowledged before the backup began
        done = lava_cli("backup", str(backup), "--json", "--database-url", database_url)
        time.sleep(0.3)  # the server still takes reports after the backup
        reporter.stopped.set()
        reporter.join(30)
        after = list(reporter.acknowledged)
        assert done.returncode == 0, done.stderr
        copied = json.loads(done.stdout)
        # The live database is in use: restoring over it is refused without --force.
        refused = lava_cli("restore", str(backup), "--database-url", database_url)
        assert refused.returncode == 2
        assert "exists" in refused.stderr and "lava serve" in refused.stderr
    finally:
        server.terminate()
        server.wait(20)
    assert len(after) > len(before)

    restored = tmp_path / "restored.db"
    result = lava_cli("restore", str(backup), "--json", "--database-url", f"sqlite:///{restored}")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ledger"]["problems"] == []
    assert report["ledger"]["wallets"] >= 1
    with sqlite3.connect(restored) as connection:
        ids = {row[0] for row in connection.execute("SELECT request_id FROM requests")}
        wallets = connection.execute("SELECT count(*) FROM wallets").fetchone()[0]
    connection.close()
    assert set(before) <= ids  # everything acknowledged before the backup began
    assert ids <= set(after)  # and nothing that was never acknowledged
    assert copied["rows"]["requests"] == len(ids) == report["rows"]["requests"]
    assert copied["rows"]["wallets"] == wallets
    # The check runs on the copy: `lava ledger check` of the restored file agrees.
    checked = lava_cli("ledger", "check", "--json", "--database-url", f"sqlite:///{restored}")
    assert checked.returncode == 0 and json.loads(checked.stdout)["problems"] == []

    # With --force a restore overwrites an existing (stopped) database.
    again = lava_cli("restore", str(backup), "--force", "--database-url", f"sqlite:///{restored}")
    assert again.returncode == 0, again.stderr
    assert "Ledger:" in again.stdout and "clean" in again.stdout


def test_a_backup_never_overwrites_without_force(tmp_path: Path) -> None:
    database = tmp_path / "lava.db"
    url = f"sqlite:///{database}"
    assert lava_cli("ledger", "check", "--database-url", url).returncode == 0  # creates it
    existing = tmp_path / "existing.db"
    existing.write_text("keep me")
    refused = lava_cli("backup", str(existing), "--database-url", url)
    assert refused.returncode == 2 and "exists" in refused.stderr
    assert existing.read_text() == "keep me"
    not_lava = lava_cli("restore", str(existing), "--database-url", f"sqlite:///{tmp_path}/n.db")
    assert not_lava.returncode == 2 and "not a usable SQLite database" in not_lava.stderr


def test_postgresql_is_backed_up_with_pg_dump(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite: see the test above")
    target = tmp_path / "lava.dump"
    done = lava_cli("backup", str(target), "--database-url", database_url)
    if "pg_dump is not installed" in done.stderr:
        assert done.returncode == 2 and "pg_dump --format=custom" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    assert target.stat().st_size > 0
    assert "pg_restore" in done.stdout
    assert target.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    guidance = lava_cli("restore", str(target), "--database-url", database_url)
    assert guidance.returncode == 2 and "pg_restore" in guidance.stderr
