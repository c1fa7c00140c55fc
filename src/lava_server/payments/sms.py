"""Sending one-time codes. The sandbox sender writes them to the log (and keeps them, for
tests); a real SMS gateway implements the same `send`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("lava_server.sms")


class SmsSender(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


@dataclass(frozen=True)
class SentSms:
    phone: str
    text: str


class SandboxSms:
    def __init__(self) -> None:
        self.sent: list[SentSms] = []

    async def send(self, phone: str, text: str) -> None:
        log.info("sandbox SMS to %s: %s", phone, text)
        self.sent.append(SentSms(phone, text))
