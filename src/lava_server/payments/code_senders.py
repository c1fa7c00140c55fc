"""Sending one-time codes (`docs/checkout-and-wallets.md#one-time-codes`).

A `CodeSender` delivers a short text to a `Destination`: a phone number (E.164) or an email
address. The senders:

- `LogSender` (`log`): writes codes to the server log and keeps them, for tests; sandbox only
  (the sandbox page shows the code as well).
- `TwilioSender` (`twilio`, `payments.twilio`): SMS through Twilio's Messages REST API.
- `SmtpSender` (`smtp`, `payments.smtp`): email through an SMTP server.

Each mode has its senders (`LAVA_CODE_SENDER_LIVE`, `LAVA_CODE_SENDER_SANDBOX`), one per channel:
`Senders` routes a destination to the sender of its channel, and its `channels` are what the
checkout page lets the customer choose from. A sender that fails raises `CodeNotSent`, whose
`message` is written for the customer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from lava_server.payments.interface import WrongMode
from lava_server.settings import Settings

log = logging.getLogger("lava_server.codes")

Channel = Literal["phone", "email"]
CHANNELS: tuple[Channel, ...] = ("phone", "email")


@dataclass(frozen=True)
class Phone:
    number: str  # E.164: `+` and digits

    channel: Channel = field(default="phone", init=False)

    def __str__(self) -> str:
        return self.number


@dataclass(frozen=True)
class Email:
    address: str

    channel: Channel = field(default="email", init=False)

    def __str__(self) -> str:
        return self.address


Destination = Phone | Email


class CodeNotSent(Exception):
    """The code did not leave. `message` is for the customer (shown on the page, naming `field`
    when the destination itself is at fault); `detail` is for the operator's log."""

    def __init__(self, message: str, *, detail: str = "", field: str | None = None) -> None:
        super().__init__(detail or message)
        self.message = message
        self.detail = detail or message
        self.field = field


TRY_AGAIN = "We could not send your code right now. Please try again."


class CodeSender(Protocol):
    name: str
    live: bool  # reaches real customers; serves live sessions only
    channels: frozenset[Channel]  # the destinations it delivers to

    async def send(self, to: Destination, text: str, *, livemode: bool) -> None:
        """Deliver `text` to `to`; raises `CodeNotSent` when it could not, `WrongMode` when
        `livemode` is not the sender's."""
        ...

    async def reachable(self) -> tuple[bool, str]:
        """Whether the service takes our credentials now, without sending anything (`lava
        doctor`): the answer and a line for the operator."""
        ...


def check_mode(sender: CodeSender, livemode: bool) -> None:
    if livemode != sender.live:
        mode = "live" if sender.live else "sandbox"
        raise WrongMode(f"the {sender.name} code sender serves {mode} checkouts only")


@dataclass(frozen=True)
class SentCode:
    to: Destination
    text: str


class LogSender:
    """Sandbox only: the code goes to the log (and `sent`), where the page also shows it."""

    name = "log"
    live = False

    def __init__(self, channels: frozenset[Channel] = frozenset({"phone"})) -> None:
        self.channels = channels
        self.sent: list[SentCode] = []

    async def send(self, to: Destination, text: str, *, livemode: bool) -> None:
        if livemode:
            raise WrongMode("the log code sender only writes codes to the log")
        log.info("sandbox code to %s: %s", to, text)
        self.sent.append(SentCode(to, text))

    async def reachable(self) -> tuple[bool, str]:
        return True, "codes are written to the server log"


class Senders:
    """The senders of one mode, one per channel."""

    def __init__(self, by_channel: Mapping[Channel, CodeSender], *, live: bool) -> None:
        self.by_channel = dict(by_channel)
        self.live = live
        self.channels = frozenset(self.by_channel)
        self.name = ",".join(sorted({sender.name for sender in self.by_channel.values()}))

    async def send(self, to: Destination, text: str, *, livemode: bool) -> None:
        sender = self.by_channel.get(to.channel)
        if sender is None:
            raise CodeNotSent(f"Codes cannot be sent by {to.channel} here.", field=to.channel)
        await sender.send(to, text, livemode=livemode)

    async def reachable(self) -> tuple[bool, str]:
        answers = [await sender.reachable() for sender in set(self.by_channel.values())]
        return all(ok for ok, _ in answers), "; ".join(detail for _, detail in answers)


def build(settings: Settings, *, live: bool) -> Senders | None:
    """The senders configured for a mode (None: none, for live mode without any)."""
    names = (settings.code_sender_live if live else settings.code_sender_sandbox).split(",")
    by_channel: dict[Channel, CodeSender] = {}
    for name in filter(None, names):
        if name == "log":
            channels: frozenset[Channel] = frozenset(
                channel for channel in CHANNELS if channel in settings.code_log_channels
            )
            sender: CodeSender = LogSender(channels)
        elif name == "twilio":
            from lava_server.payments.twilio import TwilioSender

            sender = TwilioSender.from_settings(settings, live=live)
        else:
            from lava_server.payments.smtp import SmtpSender

            sender = SmtpSender.from_settings(settings, live=live)
        for channel in sender.channels:
            by_channel[channel] = sender
    if not by_channel:
        return None
    return Senders(by_channel, live=live)
