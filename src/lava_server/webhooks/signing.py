"""The payload of a delivery and its two signatures (`docs/webhooks.md#signatures`)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

import orjson


def payload(
    event_id: str, name: str, created_at: str, livemode: bool, data: dict[str, Any]
) -> bytes:
    """The body: `event` (the current key) and `type` (the older one) carry the same name."""
    return orjson.dumps(
        {
            "id": event_id,
            "event": name,
            "type": name,
            "created_at": created_at,
            "livemode": livemode,
            "data": data,
        }
    )


def _hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def headers(event_id: str, body: bytes, secrets: Sequence[str], timestamp: int) -> dict[str, str]:
    """`secrets`: the valid secrets, newest first (two during a rotation). `X-Webhook-Signature`
    is signed with the newest; `X-Lava-Signature` has one `v1=` per secret."""
    signed = f"{timestamp}.".encode() + body
    lava = ",".join([f"t={timestamp}", *(f"v1={_hex(secret, signed)}" for secret in secrets)])
    return {
        "Content-Type": "application/json",
        "User-Agent": "lava-webhooks/1",
        "Webhook-Id": event_id,
        "X-Webhook-Signature": _hex(secrets[0], body),
        "X-Lava-Signature": lava,
    }
