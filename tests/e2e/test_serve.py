"""`lava serve` as a new user runs it: a real process, real HTTP, both databases."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.servers import LAVA, clean_env, free_port, start_server, stop_server


@pytest.mark.slow
def test_first_start_prints_a_key_and_serves(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    process, lines = start_server(database_url, port, tmp_path)
    try:
        text = "".join(lines)
        keys = re.findall(r"aks_test_[A-Za-z0-9_-]+", text)
        assert len(keys) == 1, text
        assert f"http://127.0.0.1:{port}/v1/" in text
        merchant_id = re.findall(r"mer_[A-Za-z0-9]+", text)[0]
        assert f"(another: lava keys create --merchant {merchant_id})" in text
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
        output = stop_server(process)
    assert "Shutting down" in output or "Finished server process" in output

    # A second start on the same database creates nothing and prints no key.
    process, lines = start_server(database_url, port, tmp_path)
    try:
        assert "aks_test_" not in "".join(lines)
    finally:
        stop_server(process)


@pytest.mark.slow
def test_default_database_is_lava_db_in_the_working_directory(tmp_path: Path) -> None:
    env = clean_env()
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
        stop_server(process)
