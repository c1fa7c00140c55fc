"""Moving the server's clock past the cooldown of a new secret key
(`docs/current-api.md#secret-keys`)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lava_server import timeutil


def later(monkeypatch: pytest.MonkeyPatch, *, seconds: float = 16) -> None:
    """The server's clock (in this process), `seconds` ahead of the real one from now on."""
    monkeypatch.setattr(
        timeutil, "clock", lambda: datetime.now(timezone.utc) + timedelta(seconds=seconds)
    )
