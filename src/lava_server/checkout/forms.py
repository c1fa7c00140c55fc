"""What a customer types on the checkout page, checked on the server. Every refusal is a
`FormError` naming the field, with a message written for the customer; a form with several
wrong fields gets one `FormError` listing them all (`Checks`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from lava_server.payments.interface import Card

T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    field: str | None
    message: str


class FormError(Exception):
    def __init__(
        self,
        message: str,
        field: str | None = None,
        status: int = 400,
        *,
        problems: list[Problem] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status
        self.problems = problems or [Problem(field, message)]

    def message_for(self, field: str) -> str | None:
        return next((p.message for p in self.problems if p.field == field), None)


class Checks:
    """Runs every check of a form and refuses it once, with all its problems."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def run(self, check: Callable[[], T]) -> T | None:
        try:
            return check()
        except FormError as error:
            self.problems.extend(error.problems)
            return None

    def done(self) -> None:
        if self.problems:
            first = self.problems[0]
            raise FormError(first.message, first.field, problems=self.problems)


def dollars(amount: Decimal) -> str:
    """`$1,234.50`."""
    return f"${amount:,.2f}"


_PHONE_JUNK = re.compile(r"[\s().-]")
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")
_AMOUNT = re.compile(r"[0-9]{1,7}(\.[0-9]{1,2})?")


def phone(text: str) -> str:
    """An international number, kept as `+` and digits (E.164)."""
    cleaned = _PHONE_JUNK.sub("", text)
    if not re.fullmatch(r"\+[1-9][0-9]{7,14}", cleaned):
        raise FormError(
            "Enter your mobile number in international format, starting with + and the country "
            "code, like +1 415 555 0100.",
            "phone",
        )
    return cleaned


def email(text: str) -> str:
    value = text.strip()
    if len(value) > 320 or not _EMAIL.fullmatch(value):
        raise FormError("Enter an email address like name@example.com.", "email")
    return value


def name(text: str, field: str, label: str) -> str:
    value = " ".join(text.split())
    if not value:
        raise FormError(f"Enter your {label}.", field)
    if len(value) > 255:
        raise FormError(f"Your {label} can be at most 255 characters.", field)
    if not value.isprintable():
        raise FormError(f"Your {label} can only hold letters, digits and punctuation.", field)
    return value


def code(text: str) -> str:
    value = re.sub(r"\s", "", text)
    if not re.fullmatch(r"[0-9]{6}", value):
        raise FormError("Enter the 6-digit code we sent you.", "code")
    return value


def amount(text: str, low: Decimal, high: Decimal, field: str = "amount") -> Decimal:
    value = text.strip().removeprefix("$").replace(",", "").strip()
    if not _AMOUNT.fullmatch(value):
        raise FormError("Enter an amount in US dollars, like 25 or 25.50.", field)
    parsed = Decimal(value)
    if not low <= parsed <= high:
        raise FormError(f"Enter an amount from {dollars(low)} to {dollars(high)}.", field)
    return parsed


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card(form: Mapping[str, str], now: datetime) -> Card:
    checks = Checks()
    number = checks.run(lambda: _card_number(form.get("card_number", "")))
    expiry = checks.run(lambda: _card_expiry(form.get("card_expiry", ""), now))
    cvc = checks.run(lambda: _card_cvc(form.get("card_cvc", "")))
    checks.done()
    assert number is not None and expiry is not None and cvc is not None
    return Card(number=number, exp_month=expiry[0], exp_year=expiry[1], cvc=cvc)


def _card_number(text: str) -> str:
    number = re.sub(r"[\s-]", "", text)
    if not re.fullmatch(r"[0-9]{12,19}", number) or not _luhn_ok(number):
        raise FormError("Enter a valid card number.", "card_number")
    return number


def _card_expiry(text: str, now: datetime) -> tuple[int, int]:
    expiry = re.fullmatch(r"\s*([0-9]{1,2})\s*/\s*([0-9]{2}|[0-9]{4})\s*", text)
    if expiry is None or not 1 <= int(expiry.group(1)) <= 12:
        raise FormError("Enter the expiry date as MM / YY.", "card_expiry")
    month, year = int(expiry.group(1)), int(expiry.group(2))
    if year < 100:
        year += 2000
    if (year, month) < (now.year, now.month):
        raise FormError("This card has expired.", "card_expiry")
    return month, year


def _card_cvc(text: str) -> str:
    cvc = text.strip()
    if not re.fullmatch(r"[0-9]{3,4}", cvc):
        raise FormError("Enter the 3 or 4 digit security code.", "card_cvc")
    return cvc


@dataclass(frozen=True)
class Autopay:
    threshold: Decimal
    amount: Decimal


def autopay(form: Mapping[str, str], low: Decimal, high: Decimal) -> Autopay | None:
    """The optional autopay choice of the card step (`None`: not asked for)."""
    if form.get("autopay") != "on":
        return None
    checks = Checks()
    threshold = checks.run(
        lambda: amount(form.get("autopay_threshold", ""), Decimal(0), high, "autopay_threshold")
    )
    top_up = checks.run(lambda: amount(form.get("autopay_amount", ""), low, high, "autopay_amount"))
    checks.done()
    assert threshold is not None and top_up is not None
    return Autopay(threshold, top_up)
