"""Verify a webhook delivery from a Lava server and read its event.

::

    from lavapayments.webhooks import verify, WebhookVerificationError

    event = verify(request_body_bytes, request.headers, "whsec_...")
    if event["event"] == "checkout.completed":
        ...

Both signature headers are checked, whichever is present and valid wins:

- ``X-Lava-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]``: HMAC-SHA256 of ``"<t>.<body>"``;
  ``t`` must be within ``tolerance`` seconds of now (a replayed old delivery is refused). During
  a secret rotation it carries one ``v1=`` per valid secret.
- ``X-Webhook-Signature: <hex>``: HMAC-SHA256 of the raw body (no time: it is trusted only
  when ``X-Lava-Signature`` is absent or signed with another secret, never when it is too old).

Pass the raw body exactly as received (not re-serialised JSON).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from ._exceptions import LavaError

__all__ = ["WebhookVerificationError", "verify"]


class WebhookVerificationError(LavaError):
    """The delivery's signature is missing, wrong or too old, or its body is not an event."""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, found in headers.items():
        if key.lower() == lowered:
            return found
    return None


def _expected(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    tolerance: int = 300,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """The event if the delivery is signed with ``secret``; else raises
    :class:`WebhookVerificationError`."""
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    if not secret:
        raise WebhookVerificationError("No webhook secret given.")
    problems: list[str] = []
    lava = _header(headers, "X-Lava-Signature")
    plain = _header(headers, "X-Webhook-Signature")
    verified = False
    if lava is not None:
        timestamp: int | None = None
        signatures: list[str] = []
        for part in lava.split(","):
            key, _, value = part.strip().partition("=")
            if key == "t" and value.isdigit():
                timestamp = int(value)
            elif key == "v1":
                signatures.append(value)
        if timestamp is None or not signatures:
            problems.append("X-Lava-Signature is malformed")
        else:
            expected = _expected(secret, f"{timestamp}.".encode() + body)
            if not any(hmac.compare_digest(expected, s) for s in signatures):
                problems.append("X-Lava-Signature does not match")
            elif abs((time.time() if now is None else now) - timestamp) > tolerance:
                # Signed, but not now: a replay. The other header cannot vouch for it either.
                raise WebhookVerificationError(
                    f"Webhook signature check failed: X-Lava-Signature's time is more than "
                    f"{tolerance} s away from now (a replayed delivery?)."
                )
            else:
                verified = True
    if not verified and plain is not None:
        if hmac.compare_digest(_expected(secret, body), plain.strip()):
            verified = True
        else:
            problems.append("X-Webhook-Signature does not match")
    if not verified:
        if not problems:
            problems.append("no X-Lava-Signature or X-Webhook-Signature header")
        raise WebhookVerificationError("Webhook signature check failed: " + "; ".join(problems))
    try:
        event = json.loads(body)
    except ValueError as error:
        raise WebhookVerificationError(f"The webhook body is not JSON: {error}") from None
    if not isinstance(event, dict) or "id" not in event:
        raise WebhookVerificationError("The webhook body is not an event.")
    return event
