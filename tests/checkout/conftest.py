from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lava_server import timeutil
from tests.checkout.helpers import billing_of


class Clock:
    """The billing clock of the app under test, moved by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(client, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The server's one clock (`timeutil.clock`: the API, the hot path, checkout, the worker)."""
    clock = Clock(datetime.now(timezone.utc).replace(microsecond=0))
    monkeypatch.setattr(timeutil, "clock", clock)
    billing_of(client).clock = clock
    return clock
