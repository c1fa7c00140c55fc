"""`lava serve` as a new user runs it: a real process, real HTTP, both databases."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

LAVA = str(Path(sys.executable).with_name("lava"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(database_url: str, port: int, cwd: Path) -> tuple[subprocess.Popen[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAVA_")}
    process = subprocess.Popen(
        [LAVA, "serve", "--port", str(port), "--database-url", database_url],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 30
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Uvicorn running" in line or "Application startup complete" in line:
            return process, lines
    process.kill()
    raise AssertionError("server did not start:\n" + "".join(lines))


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    return output


@pytest.mark.slow
def test_first_start_prints_a_key_and_serves(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    process, lines = start(database_url, port, tmp_path)
    try:
        text = "".join(lines)
        keys = re.findall(r"aks_test_[A-Za-z0-9_-]+", text)
        assert len(keys) == 1, text
        assert f"http://127.0.0.1:{port}/v1/" in text
        base = f"http://127.0.0.1:{port}/v1/"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys[0]}"}) as http:
            response = http.get("connections")
            assert response.status_code == 200
            assert response.json() == {"data": [], "has_more": False}
            wrong = http.get("connections", headers={"Authorization": "Bearer aks_test_wrong"})
            assert wrong.status_code == 401
            assert wrong.json()["error"]["message"]
            created = http.post(
                "products",
                json={"name": "Chat", "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}]},
            )
            assert created.status_code == 201
    finally:
        output = stop(process)
    assert "Shutting down" in output or "Finished server process" in output

    # A second start on the same database creates nothing and prints no key.
    process, lines = start(database_url, port, tmp_path)
    try:
        assert "aks_test_" not in "".join(lines)
    finally:
        stop(process)


@pytest.mark.slow
def test_default_database_is_lava_db_in_the_working_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAVA_")}
    port = free_port()
    process = subprocess.Popen(
        [LAVA, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert (tmp_path / "lava.db").exists()
    finally:
        stop(process)
