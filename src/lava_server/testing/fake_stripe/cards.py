"""Stripe's test cards and what each does; any other valid number behaves like 4242."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decline:
    code: str
    decline_code: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Behaviour:
    """What a card does when charged or set up.

    ``three_d_secure``: ``None`` (never asks), ``"one_time"`` (4000002500003155: asks on session and
    at set-up; off session it passes once set up, else declines ``authentication_required``) or
    ``"always"`` (4000002760003184: asks on session; off session it always declines
    ``authentication_required``).
    """

    decline: Decline | None = None
    three_d_secure: str | None = None
    funding: str = "credit"


GENERIC_DECLINE = Decline("card_declined", "generic_decline", "Your card was declined.")
AUTHENTICATION_REQUIRED = Decline(
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
)

TEST_CARDS: dict[str, Behaviour] = {
    "4242424242424242": Behaviour(),
    "4000056655665556": Behaviour(funding="debit"),
    "5555555555554444": Behaviour(),
    "378282246310005": Behaviour(),
    "4000002500003155": Behaviour(three_d_secure="one_time"),
    "4000002760003184": Behaviour(three_d_secure="always"),
    "4000000000003220": Behaviour(three_d_secure="always"),
    "4000000000000002": Behaviour(decline=GENERIC_DECLINE),
    "4000000000009995": Behaviour(
        decline=Decline("card_declined", "insufficient_funds", "Your card has insufficient funds.")
    ),
    "4000000000009987": Behaviour(
        decline=Decline("card_declined", "lost_card", "Your card was declined.")
    ),
    "4000000000000069": Behaviour(decline=Decline("expired_card", None, "Your card has expired.")),
    "4000000000000127": Behaviour(
        decline=Decline("incorrect_cvc", None, "Your card's security code is incorrect.")
    ),
    "4000000000000119": Behaviour(
        decline=Decline(
            "processing_error",
            None,
            "An error occurred while processing your card. Try again in a little bit.",
        )
    ),
}
"""The numbers the fake knows. Any other number that passes the Luhn check succeeds."""

TEST_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_authenticationRequiredOnSetup": "4000002500003155",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
}
"""Stripe's test PaymentMethod ids: each use makes a new ``pm_`` of that card."""


def behaviour(number: str) -> Behaviour:
    return TEST_CARDS.get(number, Behaviour())


def luhn_ok(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in ("34", "37"):
        return "amex"
    if number[:2] in ("51", "52", "53", "54", "55") or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number.startswith(("6011", "65", "644", "645", "646", "647", "648", "649")):
        return "discover"
    if number[:2] in ("36", "38", "39", "30"):
        return "diners"
    if number.startswith("35"):
        return "jcb"
    return "unknown"
