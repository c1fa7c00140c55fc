"""The story of live mode taking fake money, replayed on a real `lava serve` with default
settings: it says at start, in one line, that live mode is not configured; a live key's checkout
session is refused with 409 `live_mode_not_configured`; sandbox keeps working; the ledger holds
nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.e2e.servers import free_port, lava_cli, start_server, stop_server

SESSION = {"checkout_mode": "onboarding", "origin_url": "https://shop.example"}


@pytest.mark.slow
def test_a_live_checkout_is_refused_and_nothing_is_paid(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    process, lines = start_server(database_url, port, tmp_path)
    try:
        started = "".join(lines)
        [notice] = [line for line in lines if "Live mode is not configured" in line]
        assert "a payment provider able to collect cards (" in notice
        assert "a code sender (" in notice and "sandbox keys work as usual" in notice
        sandbox_key = re.findall(r"aks_test_[A-Za-z0-9_-]+", started)[0]
        created = lava_cli(
            "merchants", "create", "Acme Live", "--live", "--json", "--database-url", database_url
        )
        live_key = json.loads(created.stdout)["secret_key"]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/v1/") as http:
            refused = http.post(
                "checkout_sessions",
                json=SESSION,
                headers={"Authorization": f"Bearer {live_key}"},
            )
            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert error["code"] == "live_mode_not_configured"
            assert "payment provider able to collect cards" in error["message"]
            assert "code sender" in error["message"]
            listed = http.get(
                "checkout_sessions", headers={"Authorization": f"Bearer {live_key}"}
            ).json()
            assert listed["data"] == []
            sandbox = http.post(
                "checkout_sessions",
                json=SESSION,
                headers={"Authorization": f"Bearer {sandbox_key}"},
            )
            assert sandbox.status_code == 201, sandbox.text
    finally:
        output = stop_server(process)
    assert "Traceback" not in started + output
    report = json.loads(
        lava_cli("ledger", "check", "--json", "--database-url", database_url).stdout
    )
    assert report == {"wallets": 0, "entries": 0, "problems": []}
