from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import httpx
import pytest
from aiosmtpd.controller import Controller

from lava_server.testing import ServerThread
from lava_server.testing.fake_twilio import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_FROM,
    FakeTwilio,
    create_fake_twilio_app,
)


class TwilioFake:
    """The fake Twilio over real HTTP, and its control endpoints."""

    def __init__(self, server: ServerThread, state: FakeTwilio) -> None:
        self.server = server
        self.url = server.url
        self.state = state

    def settings(self, mode: str = "live") -> dict[str, str]:
        """The settings of a `twilio` code sender pointed at this fake."""
        return {
            f"code_sender_{mode}": "twilio",
            "twilio_account_sid": DEFAULT_ACCOUNT_SID,
            "twilio_auth_token": DEFAULT_AUTH_TOKEN,
            "twilio_from": DEFAULT_FROM,
            "twilio_base_url": self.url,
        }

    def messages(self) -> list[dict]:
        answer = httpx.get(f"{self.url}/_fake/messages")
        answer.raise_for_status()
        return list(answer.json()["messages"])

    def requests(self) -> int:
        return int(httpx.get(f"{self.url}/_fake/messages").json()["requests"])

    def fail_next(self, count: int, status: int = 500) -> None:
        httpx.post(
            f"{self.url}/_fake/fail-next", json={"count": count, "status": status}
        ).raise_for_status()


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[ServerThread]:
    app = create_fake_twilio_app()
    with ServerThread(app) as server:
        yield server


@pytest.fixture
def twilio(twilio_server: ServerThread) -> Iterator[TwilioFake]:
    fake = TwilioFake(twilio_server, twilio_server.app.state.fake_twilio)  # type: ignore[attr-defined]
    httpx.post(f"{fake.url}/_fake/reset").raise_for_status()
    yield fake
    httpx.post(f"{fake.url}/_fake/reset").raise_for_status()


class Mailbox:
    """A local SMTP server (aiosmtpd) that keeps what it is sent."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def settings(self, mode: str = "live") -> dict[str, str]:
        return {
            f"code_sender_{mode}": "smtp",
            "smtp_url": f"smtp://127.0.0.1:{self.port}",
            "smtp_from": "codes@shop.example",
        }

    def bodies(self) -> list[str]:
        return [m.get_payload(decode=True).decode() for m in self.messages]  # type: ignore[union-attr]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    with socket.socket() as probe:  # aiosmtpd's Controller needs the port before it binds
        probe.bind(("127.0.0.1", 0))
        box.port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
