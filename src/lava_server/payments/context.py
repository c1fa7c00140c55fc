"""What checkout, subscriptions, autopay and the worker share: settings, database, payment
providers, the code senders and the clock (replaceable, so tests can move through months)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import Request

from lava_server.db.engine import Database
from lava_server.errors import LiveModeNotConfigured
from lava_server.payments import code_senders
from lava_server.payments import live as live_mode
from lava_server.payments.code_senders import CodeSender
from lava_server.payments.interface import PaymentProvider
from lava_server.payments.sandbox import SandboxPayments
from lava_server.settings import Settings
from lava_server.timeutil import utcnow


@dataclass
class Billing:
    settings: Settings
    db: Database
    sandbox: SandboxPayments = field(default_factory=SandboxPayments)
    clock: Callable[[], datetime] = utcnow
    # What live objects use (None: nothing configured); see `payments.live`.
    live: PaymentProvider | None = field(init=False)
    live_codes: CodeSender | None = field(init=False)
    # The code senders of sandbox objects (`LAVA_CODE_SENDER_SANDBOX`, `log` by default).
    codes: CodeSender = field(init=False)

    def __post_init__(self) -> None:
        self.live, self.live_codes = live_mode.configured(self.settings)
        sandbox = code_senders.build(self.settings, live=False)
        assert sandbox is not None  # the setting's pattern asks for one
        self.codes = sandbox

    def live_mode_missing(self) -> list[live_mode.Missing]:
        return live_mode.missing(self.live, self.live_codes)

    def check_live_mode(self) -> None:
        """Raises `LiveModeNotConfigured`, naming what is missing, unless live mode is ready."""
        missing = self.live_mode_missing()
        if missing:
            # Lava's SDKs retry a 409 unless told not to; retrying cannot configure the server.
            raise LiveModeNotConfigured(
                live_mode.describe(missing), headers={"x-should-retry": "false"}
            )

    def codes_for(self, livemode: bool) -> CodeSender:
        if not livemode:
            return self.codes
        self.check_live_mode()
        assert self.live_codes is not None
        return self.live_codes

    def provider_named(self, name: str) -> PaymentProvider:
        if name == self.sandbox.name:
            return self.sandbox
        if self.live is not None and name == self.live.name:
            return self.live
        raise LookupError(f"payment provider {name!r} is not configured")

    def now(self) -> datetime:
        return self.clock()


def get_billing(request: Request) -> Billing:
    """FastAPI dependency."""
    billing: Billing = request.app.state.billing
    return billing
