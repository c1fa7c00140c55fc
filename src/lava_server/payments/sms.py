"""Sending one-time codes. The sandbox sender writes them to the log (and keeps them, for
tests), so it serves sandbox sessions only; a real SMS gateway implements the same `send` with
`live = True`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from lava_server.payments.interface import WrongMode

log = logging.getLogger("lava_server.sms")


class SmsSender(Protocol):
    live: bool  # reaches real customers; serves live sessions only

    async def send(self, phone: str, text: str, *, livemode: bool) -> None:
        """Send `text`; raises `WrongMode` when `livemode` is not the sender's."""
        ...


@dataclass(frozen=True)
class SentSms:
    phone: str
    text: str


class SandboxSms:
    live = False

    def __init__(self) -> None:
        self.sent: list[SentSms] = []

    async def send(self, phone: str, text: str, *, livemode: bool) -> None:
        if livemode:
            raise WrongMode("the sandbox code sender only writes codes to the log")
        log.info("sandbox SMS to %s: %s", phone, text)
        self.sent.append(SentSms(phone, text))
