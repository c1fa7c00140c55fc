from __future__ import annotations

from tests.checkout.conftest import Clock, clock  # noqa: F401
