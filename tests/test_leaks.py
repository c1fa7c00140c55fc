"""The secret-leak watch of the suite (`tests/leaks.py`) finds what it must, and only that."""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.leaks import WATCH, LeakWatch, log_files

ROOT = Path(__file__).parents[1]


def test_a_recorded_secret_is_found_in_a_log_raw_or_inside_a_base64_token() -> None:
    watch = LeakWatch()
    key = "aks_test_" + "A" * 43
    watch.record_in(json.dumps({"secret_key": key}))
    watch.log("serve.log", f"INFO something with {key} in it")
    token = base64.b64encode(json.dumps({"secret": key, "x": "y" * 20}).encode()).decode()
    watch.log("other.log", f"forwarding with {token}")
    found = watch.leaks()
    assert found == [
        f"serve.log: {'A' * 12}... in 'INFO something with aks_test_{'A' * 12}... in it'",
        f"other.log: {'A' * 12}... in 'forwarding with {token[:12]}...'",
    ]


def test_what_was_not_recorded_or_was_shown_once_is_no_leak() -> None:
    watch = LeakWatch()
    key = "lava_sk_" + "B" * 43
    watch.log("serve.log", f"a key nobody created: {key}")
    assert watch.leaks() == []
    watch.record_in(key)
    watch.log("serve.log", f"Secret key (shown once): {key}")
    assert watch.leaks() == [  # the first line, not this one
        f"serve.log: {'B' * 12}... in 'a key nobody created: lava_sk_{'B' * 12}...'"
    ]


def test_the_plugin_records_draws_answers_and_log_records(tmp_path: Path) -> None:
    drawn = secrets.token_urlsafe(32)
    assert drawn in WATCH.secrets
    key = "whsec_test_" + "C" * 43
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"s": key}))
    with httpx.Client(transport=transport) as http:
        http.get("http://x/", headers={"Authorization": "Bearer " + "t" * 45})
    assert "C" * 43 in WATCH.secrets
    assert "t" * 45 in WATCH.secrets
    before = len(WATCH.logs)
    logging.getLogger("lava_server.test").info("a line with %s", "something")
    assert WATCH.logs[before:] == [("log record lava_server.test", "a line with something")]
    (tmp_path / "a.log").write_text("x")
    assert ("a.log", "x") in list(log_files(tmp_path))


LEAKY = """
import logging, secrets
from pathlib import Path


def test_creates_and_logs_a_secret():
    key = "aks_test_" + secrets.token_urlsafe(32)
    logging.getLogger("lava_server").info("created %s", key)


def test_writes_a_log_file(tmp_path: Path):
    (tmp_path / "serve.log").write_text("aks_test_" + secrets.token_urlsafe(32))


def test_creates_a_secret_and_keeps_it():
    assert secrets.token_urlsafe(32)
"""


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_run_whose_logs_hold_a_secret_fails(tmp_path: Path, workers: str) -> None:
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    env = {k: v for k, v in os.environ.items() if k != "LAVA_TEST_LEAKS_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.leaks",
            "-p",
            "no:cacheprovider",
            "-n",
            workers,
            "-q",
            "test_leaky.py",
            "--rootdir",
            str(tmp_path),
            "--basetemp",
            str(tmp_path / "base"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "3 passed" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 1, done.stdout
    assert "SECRETS FOUND IN LOGS" in done.stdout
    assert "log record lava_server" in done.stdout
    assert "serve.log" in done.stdout
