"""`lava doctor` checks that each live code sender takes our credentials, without sending:
Twilio's account is read from the fake Twilio, the SMTP server is logged in to (aiosmtpd)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.cli.test_doctor import by_check, doctor


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Accepting:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


@pytest.fixture
def smtp_with_login() -> Iterator[int]:
    """An SMTP server that takes user `codes` with password `right` only."""

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"codes" and auth_data.password == b"right"
        return AuthResult(success=ok, handled=False)

    port = free_port()
    controller = Controller(
        Accepting(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_a_twilio_sender_is_checked_against_its_account(monkeypatch, twilio):
    for key in [k for k in os.environ if k.startswith("LAVA_")]:
        monkeypatch.delenv(key)
    _, report = doctor(monkeypatch, **twilio.settings())
    ok, detail = by_check(report)["code sender (phone: twilio)"]
    assert ok is True and "account active" in detail
    assert twilio.messages() == []  # nothing sent
    _, report = doctor(monkeypatch, **{**twilio.settings(), "twilio_auth_token": "wrong"})
    ok, detail = by_check(report)["code sender (phone: twilio)"]
    assert ok is False and "refused by Twilio" in detail
    _, report = doctor(
        monkeypatch, **{**twilio.settings(), "twilio_base_url": "http://127.0.0.1:9"}
    )
    ok, detail = by_check(report)["code sender (phone: twilio)"]
    assert ok is False and "cannot be reached" in detail


def test_an_smtp_sender_is_logged_in_to(monkeypatch, smtp_with_login):
    smtp = {"code_sender_live": "smtp", "smtp_from": "codes@shop.example"}
    good = f"smtp://codes:right@127.0.0.1:{smtp_with_login}"
    _, report = doctor(monkeypatch, **smtp, smtp_url=good)
    ok, detail = by_check(report)["code sender (email: smtp)"]
    assert ok is True and f"127.0.0.1:{smtp_with_login} answers" in detail
    bad = f"smtp://codes:wrong@127.0.0.1:{smtp_with_login}"
    _, report = doctor(monkeypatch, **smtp, smtp_url=bad)
    ok, detail = by_check(report)["code sender (email: smtp)"]
    assert ok is False and "refused the login" in detail
    _, report = doctor(monkeypatch, **smtp, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    ok, detail = by_check(report)["code sender (email: smtp)"]
    assert ok is False and "cannot be reached" in detail


def test_both_channels_are_listed(monkeypatch, twilio, smtp_with_login):
    settings = {
        **twilio.settings(),
        "code_sender_live": "twilio,smtp",
        "smtp_url": f"smtp://codes:right@127.0.0.1:{smtp_with_login}",
        "smtp_from": "codes@shop.example",
    }
    _, report = doctor(monkeypatch, **settings)
    checks = by_check(report)
    assert checks["code sender (phone: twilio)"][0] is True
    assert checks["code sender (email: smtp)"][0] is True
