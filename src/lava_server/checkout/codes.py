"""One-time codes (`docs/checkout-and-wallets.md`): 6 digits, valid 10 minutes, 5 tries, then a
new code is needed. Only a keyed hash of the code is stored (sandbox sessions also keep it in
clear, since their page shows it)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from lava_server.checkout.forms import FormError
from lava_server.db.models import CheckoutSession

CODE_LIFETIME = timedelta(minutes=10)
MAX_TRIES = 5
MAX_CODES = 5  # per checkout session
RESEND_WAIT = timedelta(seconds=30)


def _digest(session: CheckoutSession, code: str) -> str:
    return hmac.new(session.secret.encode(), code.encode(), hashlib.sha256).hexdigest()


def issue(session: CheckoutSession, now: datetime) -> str:
    """A new code for the session (the previous one stops working); returns it for sending."""
    if session.codes_sent >= MAX_CODES:
        raise FormError(
            "Too many codes were sent for this checkout. Please start a new checkout.", "code"
        )
    if session.code_sent_at is not None and now - session.code_sent_at < RESEND_WAIT:
        wait = int((RESEND_WAIT - (now - session.code_sent_at)).total_seconds()) + 1
        raise FormError(f"Please wait {wait} seconds before asking for a new code.", "code")
    code = f"{secrets.randbelow(10**6):06d}"
    session.code_hash = _digest(session, code)
    session.sandbox_code = None if session.livemode else code
    session.code_sent_at = now
    session.code_expires_at = now + CODE_LIFETIME
    session.code_attempts = 0
    session.codes_sent += 1
    return code


def check(session: CheckoutSession, code: str, now: datetime) -> FormError | None:
    """Try `code`. A wrong one uses up a try (the caller commits that); returns why it failed."""
    if session.code_hash is None or session.code_expires_at is None:
        return FormError("Ask for a code first.", "code")
    if now >= session.code_expires_at:
        return FormError("This code has expired. Send a new code.", "code")
    if session.code_attempts >= MAX_TRIES:
        return FormError("Too many wrong tries. Send a new code.", "code")
    if not hmac.compare_digest(session.code_hash, _digest(session, code)):
        session.code_attempts += 1
        left = MAX_TRIES - session.code_attempts
        if left == 0:
            return FormError(
                "That code is not right, and it was the last try. Send a new code.", "code"
            )
        return FormError(
            f"That code is not right. {left} {'try' if left == 1 else 'tries'} left.", "code"
        )
    session.code_hash = None
    session.sandbox_code = None
    session.code_expires_at = None
    return None


def forget(session: CheckoutSession) -> None:
    session.code_hash = None
    session.sandbox_code = None
    session.code_expires_at = None
    session.code_sent_at = None
    session.code_attempts = 0
