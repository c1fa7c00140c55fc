"""Per-key request budget for management routes: fixed one-minute windows, in memory.

The window is per server process; with N processes behind a balancer a key gets at most N times
the limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix seconds when the window ends
    now: float

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset - int(self.now)))
        return headers


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._window = 0
        self._counts: dict[str, int] = {}

    def hit(self, key: str) -> RateDecision:
        now = self.clock()
        window = int(now // 60)
        if window != self._window:
            self._window, self._counts = window, {}
        count = self._counts.get(key, 0) + 1
        allowed = count <= self.per_minute
        if allowed:
            self._counts[key] = count
        return RateDecision(
            allowed=allowed,
            limit=self.per_minute,
            remaining=max(0, self.per_minute - min(count, self.per_minute)),
            reset=(window + 1) * 60,
            now=now,
        )
