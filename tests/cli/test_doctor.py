"""`lava doctor`: each mode's configuration, with Stripe's keys tried against the fake Stripe."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from lava_server.cli import app
from lava_server.testing import ServerThread, serve_in_thread
from lava_server.testing.fake_stripe import create_fake_stripe_app

runner = CliRunner()


@pytest.fixture(scope="module")
def fake_stripe() -> Iterator[ServerThread]:
    with serve_in_thread(create_fake_stripe_app()) as server:
        yield server


def doctor(monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[int, dict]:
    for key in [k for k in os.environ if k.startswith("LAVA_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(f"LAVA_{key.upper()}", value)
    result = runner.invoke(app, ["doctor", "--json"])
    return result.exit_code, json.loads(result.stdout)


def by_check(report: dict) -> dict[str, tuple[bool | None, str]]:
    return {row["check"]: (row["ok"], row["detail"]) for row in report["checks"]}


def test_sandbox_only(monkeypatch):
    status, report = doctor(monkeypatch)
    assert status == 1 and report["live_ready"] is False
    checks = by_check(report)
    assert checks["payments and codes"][0] is True
    assert checks["payment provider"] == (False, "LAVA_PAYMENT_PROVIDER is sandbox")


def test_stripe_keys_are_tried_against_the_api_base(monkeypatch, fake_stripe):
    stripe = {
        "payment_provider": "stripe",
        "stripe_secret_key": "sk_live_doctor",
        "stripe_publishable_key": "pk_live_doctor",
        "stripe_webhook_secret": "whsec_doctor",
        "stripe_api_base": fake_stripe.url,
        "public_url": "https://pay.example",
    }
    status, report = doctor(monkeypatch, **stripe)
    checks = by_check(report)
    assert checks["Stripe secret key"][0] is True
    assert checks["Stripe publishable key"][0] is True
    assert checks["Stripe webhook"] == (
        True,
        "endpoint https://pay.example/v1/stripe/webhook; signing secret set",
    )
    # No code sender reaches customers in this version: live mode is not ready.
    assert checks["code sender"][0] is False and status == 1

    status, report = doctor(
        monkeypatch, **{**stripe, "stripe_secret_key": "rk_other", "stripe_webhook_secret": ""}
    )
    checks = by_check(report)
    assert checks["Stripe secret key"][0] is False
    assert "refused by Stripe" in checks["Stripe secret key"][1]
    assert checks["Stripe webhook"][0] is False

    status, report = doctor(monkeypatch, **{**stripe, "stripe_api_base": "http://127.0.0.1:9"})
    assert "cannot be reached" in by_check(report)["Stripe secret key"][1]


def test_the_text_report(monkeypatch, fake_stripe):
    for key in [k for k in os.environ if k.startswith("LAVA_")]:
        monkeypatch.delenv(key)
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "sandbox" in result.stdout and "Live mode is not configured" in result.stdout
