"""What one server process holds for its whole life and every route may use: settings, the
database and the rate limiters. Parts that only one feature needs (the request batcher, the
forward proxy) are given to it by `app.py`, not kept here."""

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
    auth_failures: RateLimiter
    # This process's `server_processes` id (`metering.abandoned.ProcessHeartbeat`), stamped on
    # the idempotency keys it claims.
    process_id: str | None = None


async def get_state(request: Request) -> AppState:
    """FastAPI dependency: the process's state (async: FastAPI runs plain functions in a
    thread pool, a thread hop per request for nothing)."""
    state: AppState = request.app.state.lava
    return state
