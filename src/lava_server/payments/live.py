"""Live mode takes real money or refuses: which providers serve live objects, and what live mode
still lacks (`missing`). Live checkout sessions need a payment provider that collects cards on
the hosted page and a code sender that reaches the customer; while either is missing they are
refused (409 `live_mode_not_configured`), `lava serve` says so at start, and live charges through
a provider that serves sandbox objects only fail with that code instead of taking fake money."""

from __future__ import annotations

from dataclasses import dataclass

from lava_server.payments import code_senders
from lava_server.payments.code_senders import CodeSender
from lava_server.payments.interface import PaymentProvider
from lava_server.settings import Settings


@dataclass(frozen=True)
class Missing:
    what: str  # "a payment provider able to collect cards"
    why: str  # what the configuration has instead


def configured(settings: Settings) -> tuple[PaymentProvider | None, CodeSender | None]:
    """The payment provider and code sender configured for live objects (None: none). The code
    sender is `LAVA_CODE_SENDER_LIVE`'s (`payments.code_senders`)."""
    codes = code_senders.build(settings, live=True)
    if settings.payment_provider == "stripe":
        from lava_server.payments.stripe import StripePayments

        return StripePayments.from_settings(settings), codes
    return None, codes


def missing(payments: PaymentProvider | None, codes: CodeSender | None) -> list[Missing]:
    """What live mode lacks with these providers; empty when it can take real money."""
    found: list[Missing] = []
    cards = "a payment provider able to collect cards"
    if payments is None:
        found.append(
            Missing(cards, "LAVA_PAYMENT_PROVIDER is sandbox, which takes test cards only")
        )
    elif not payments.live:
        found.append(Missing(cards, f"the {payments.name} provider has a test key, not a live one"))
    elif not payments.collects_cards:
        found.append(
            Missing(cards, f"the {payments.name} provider cannot collect cards on the page yet")
        )
    if codes is None or not codes.live:
        found.append(
            Missing(
                "a code sender",
                "LAVA_CODE_SENDER_LIVE is empty: set it to twilio, smtp or twilio,smtp",
            )
        )
    return found


def describe(missing: list[Missing]) -> str:
    """One sentence for the 409 answer and the line `lava serve` prints at start."""
    needs = " and ".join(f"{item.what} ({item.why})" for item in missing)
    return (
        f"Live mode is not configured on this server: it needs {needs}. Live checkouts, "
        "autopay and renewals are refused until then; sandbox keys work as usual. "
        'See "Live mode" in the README.'
    )
