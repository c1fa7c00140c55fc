"""The `smtp` code sender against a local SMTP server (aiosmtpd): the message arrives with the
code, From, To and Subject; with a login; a refused recipient names the email field; an
unreachable server says "try again"."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from lava_server.payments.code_senders import TRY_AGAIN, CodeNotSent, Email, Phone
from lava_server.payments.interface import WrongMode
from lava_server.payments.smtp import REFUSED, SUBJECT, SmtpSender

TEXT = "654321 is your Shop verification code. It expires in 10 minutes."
REFUSED_ADDRESS = "nobody@refused.example"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Message]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == REFUSED_ADDRESS:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope, message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


def _authenticator(server, session: Session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"codes",
        b"s3cret/pass",
    )
    # handled=False: aiosmtpd answers the refusal itself (535); with its default, True, it
    # leaves the answer to us and the client waited 15 s for it.
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd's Controller needs the port before it binds
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_a_code_arrives_by_email(smtp_server):
    inbox, port = smtp_server
    sender = SmtpSender(f"smtp://127.0.0.1:{port}", "Shop <codes@shop.example>", live=True)
    await sender.send(Email("ada@example.com"), TEXT, livemode=True)
    [(envelope, message)] = inbox.messages
    assert envelope.mail_from == "codes@shop.example"
    assert envelope.rcpt_tos == ["ada@example.com"]
    assert message["From"] == "Shop <codes@shop.example>"
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == SUBJECT
    assert message["Message-ID"].endswith("@shop.example>")
    assert message.get_content_type() == "text/plain"
    assert "654321" in message.get_payload(decode=True).decode()


async def test_with_a_login(smtp_server):
    inbox, port = smtp_server
    sender = SmtpSender(
        f"smtp://codes:s3cret%2Fpass@127.0.0.1:{port}", "codes@shop.example", live=False
    )
    await sender.send(Email("grace@example.com"), TEXT, livemode=False)
    assert [envelope.rcpt_tos for envelope, _ in inbox.messages] == [["grace@example.com"]]
    wrong = SmtpSender(f"smtp://codes:nope@127.0.0.1:{port}", "codes@shop.example", live=True)
    with pytest.raises(CodeNotSent) as refused:
        await wrong.send(Email("grace@example.com"), TEXT, livemode=True)
    assert refused.value.message == TRY_AGAIN and len(inbox.messages) == 1
    assert "SMTPAuthenticationError" in str(refused.value.detail)  # refused, not timed out


async def test_a_refused_recipient_names_the_email_field(smtp_server):
    inbox, port = smtp_server
    sender = SmtpSender(f"smtp://127.0.0.1:{port}", "codes@shop.example", live=True)
    with pytest.raises(CodeNotSent) as refused:
        await sender.send(Email(REFUSED_ADDRESS), TEXT, livemode=True)
    assert refused.value.message == REFUSED and refused.value.field == "email"
    assert inbox.messages == []


async def test_an_unreachable_server_says_try_again():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    sender = SmtpSender(f"smtp://127.0.0.1:{port}", "codes@shop.example", live=True, timeout=3)
    with pytest.raises(CodeNotSent) as refused:
        await sender.send(Email("ada@example.com"), TEXT, livemode=True)
    assert refused.value.message == TRY_AGAIN


async def test_modes_channels_and_urls():
    sender = SmtpSender("smtps://mail.example", "codes@shop.example", live=True)
    assert (sender.host, sender.port, sender.tls) == ("mail.example", 465, True)
    assert SmtpSender("smtp://mail.example", "a@b.example", live=True).port == 587
    with pytest.raises(WrongMode):
        await sender.send(Email("ada@example.com"), TEXT, livemode=False)
    with pytest.raises(CodeNotSent):
        await sender.send(Phone("+14155550100"), TEXT, livemode=True)
    with pytest.raises(ValueError):
        SmtpSender("http://mail.example", "a@b.example", live=True)
