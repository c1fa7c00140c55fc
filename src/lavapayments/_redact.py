"""Keeping secrets out of logs, reprs and exception texts."""

from __future__ import annotations

import re

_SECRET_PATTERN = re.compile(r"\b((?:aks|cons|ps|css)_(?:live|test)_)[A-Za-z0-9_\-]+")

REDACTED = "***"


def redact(text: str, *secrets: str) -> str:
    """Return ``text`` with Lava secrets (and the given exact strings) replaced by ``***``.

    Secrets with a known prefix keep it (``aks_test_***``) so a reader still sees which kind of key
    was involved.
    """
    text = _SECRET_PATTERN.sub(lambda m: m.group(1) + REDACTED, text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def mask(secret: str) -> str:
    """A secret shown as its kind only: ``aks_test_***`` (or ``***`` for an unknown shape)."""
    match = _SECRET_PATTERN.match(secret)
    return match.group(1) + REDACTED if match else REDACTED
