"""What one server process holds for its whole life."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from lava_server.api.ratelimit import RateLimiter
from lava_server.db.engine import Database
from lava_server.settings import Settings


@dataclass
class AppState:
    settings: Settings
    db: Database
    rate_limiter: RateLimiter


def get_state(request: Request) -> AppState:
    """FastAPI dependency: the process's state."""
    state: AppState = request.app.state.lava
    return state
