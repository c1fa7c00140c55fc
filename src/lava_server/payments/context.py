"""What checkout, subscriptions, autopay and the worker share: settings, database, payment
providers, the SMS sender and the clock (replaceable, so tests can move through months)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import Request

from lava_server.db.engine import Database
from lava_server.payments.interface import PaymentProvider
from lava_server.payments.sandbox import SandboxPayments
from lava_server.payments.sms import SandboxSms, SmsSender
from lava_server.settings import Settings
from lava_server.timeutil import utcnow


@dataclass
class Billing:
    settings: Settings
    db: Database
    sandbox: SandboxPayments = field(default_factory=SandboxPayments)
    live: PaymentProvider | None = None
    sms: SmsSender = field(default_factory=SandboxSms)
    clock: Callable[[], datetime] = utcnow

    def __post_init__(self) -> None:
        if self.live is None:
            self.live = self.sandbox
            if self.settings.payment_provider == "stripe":
                from lava_server.payments.stripe import StripePayments

                self.live = StripePayments(self.settings.stripe_secret_key)

    def provider_for(self, livemode: bool) -> PaymentProvider:
        """Sandbox objects always pay through the sandbox."""
        assert self.live is not None
        return self.live if livemode else self.sandbox

    def provider_named(self, name: str) -> PaymentProvider:
        assert self.live is not None
        if name == self.sandbox.name:
            return self.sandbox
        if name == self.live.name:
            return self.live
        raise LookupError(f"payment provider {name!r} is not configured")

    def now(self) -> datetime:
        return self.clock()


def get_billing(request: Request) -> Billing:
    """FastAPI dependency."""
    billing: Billing = request.app.state.billing
    return billing
