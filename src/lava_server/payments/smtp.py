"""One-time codes by email through an SMTP server (aiosmtplib).

`LAVA_SMTP_URL`: `smtp://user:pass@host:port` (port 587 unless given; STARTTLS when the server
offers it) or `smtps://user:pass@host:port` (TLS from the start, port 465 unless given); user and
password are optional and URL-encoded. `LAVA_SMTP_FROM` is the From address. The message is plain
text, subject "Your verification code".

A recipient the server refuses is the customer's to fix (the `email` field); any other failure
(unreachable, refused login, a timeout) says "try again" and is logged for the operator.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib

from lava_server.payments.code_senders import (
    TRY_AGAIN,
    Channel,
    CodeNotSent,
    Destination,
    Email,
    check_mode,
)
from lava_server.settings import Settings

log = logging.getLogger("lava_server.codes")

SUBJECT = "Your verification code"
REFUSED = "We cannot send email to this address. Check it and enter it again."


class SmtpSender:
    name = "smtp"
    channels: frozenset[Channel] = frozenset({"email"})

    def __init__(self, url: str, sender: str, *, live: bool, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("the SMTP URL must be smtp://[user:pass@]host[:port] or smtps://...")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.live = live
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings, *, live: bool) -> SmtpSender:
        return cls(settings.smtp_url, settings.smtp_from, live=live)

    def message(self, to: str, text: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = SUBJECT
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text)
        return message

    async def send(self, to: Destination, text: str, *, livemode: bool) -> None:
        check_mode(self, livemode)
        if not isinstance(to, Email):
            raise CodeNotSent("Codes by text message cannot be sent here.", field="phone")
        try:
            await aiosmtplib.send(
                self.message(to.address, text),
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.tls,
                start_tls=None if not self.tls else False,  # None: STARTTLS when offered
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            detail = f"SMTP server refused the recipient: {exc}"
            log.error("code by email not sent: %s", detail)
            raise CodeNotSent(REFUSED, detail=detail, field="email") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            detail = f"SMTP failed: {type(exc).__name__}: {exc}"
            log.error("code by email not sent: %s", detail)
            raise CodeNotSent(TRY_AGAIN, detail=detail) from None
        log.info("code sent by email to %s", _masked(to.address))

    async def reachable(self) -> tuple[bool, str]:
        """Connects, says EHLO (STARTTLS when offered), logs in when a user is set, and quits."""
        where = f"{self.host}:{self.port}"
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.tls,
            start_tls=None if not self.tls else False,
            timeout=self.timeout,
        )
        try:
            async with client:
                if self.username:
                    await client.login(self.username, self.password or "")
                await client.noop()
        except aiosmtplib.SMTPAuthenticationError:
            return False, f"the SMTP server at {where} refused the login"
        except (aiosmtplib.SMTPException, OSError) as exc:
            return False, f"the SMTP server at {where} cannot be reached: {type(exc).__name__}"
        return True, f"SMTP server at {where} answers; email from {self.sender}"


def _masked(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"
