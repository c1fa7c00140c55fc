"""A webhook receiver over real HTTP on a loopback port, for tests and the benchmark: it records
what it receives, verifies both signatures with the SDK's helper, and answers as told."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from lavapayments.webhooks import verify


@dataclass
class Received:
    name: str  # the hook's name, from its path
    headers: dict[str, str]
    body: bytes
    event: dict[str, Any] | None  # None when a signature did not verify


@dataclass
class Receiver:
    """`secrets`: the secret per path (`/hook/<name>`); `answer(n)` gives the status of the
    n-th request (from 1); `delay` seconds before answering."""

    secrets: dict[str, str] = field(default_factory=dict)
    answer: Callable[[int], int] = lambda n: 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    most_in_flight: int = 0
    overlaps: int = 0  # an event id received while a copy of it was still being received
    _inside: set[str] = field(default_factory=set)

    def app(self) -> Starlette:
        async def hook(request: Request) -> PlainTextResponse:
            name = request.path_params["name"]
            body = await request.body()
            headers = dict(request.headers)
            event_id = headers.get("webhook-id", "")
            with self.lock:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                if event_id in self._inside:
                    self.overlaps += 1
                self._inside.add(event_id)
            try:
                if self.delay:
                    await asyncio.sleep(self.delay)
                event = None
                secret = self.secrets.get(name)
                if secret is not None:
                    event = verified(body, headers, secret)
                with self.lock:
                    self.received.append(Received(name, headers, body, event))
                    n = len(self.received)
                return PlainTextResponse("ok " * 1000, status_code=self.answer(n))
            finally:
                with self.lock:
                    self.in_flight -= 1
                    self._inside.discard(event_id)

        return Starlette(routes=[Route("/hook/{name}", hook, methods=["POST"])])

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """Verified events (of the hook `name`), deduplicated by id, in arrival order."""
        seen: dict[str, dict[str, Any]] = {}
        with self.lock:
            for item in self.received:
                if name is not None and item.name != name:
                    continue
                if item.event is not None and item.event["id"] not in seen:
                    seen[item.event["id"]] = item.event
        return list(seen.values())


def verified(body: bytes, headers: dict[str, str], secret: str) -> dict[str, Any] | None:
    """The event if BOTH signature headers verify with the SDK helper (each on its own)."""
    lava_only = {k: v for k, v in headers.items() if k != "x-webhook-signature"}
    plain_only = {k: v for k, v in headers.items() if k != "x-lava-signature"}
    try:
        event = verify(body, lava_only, secret)
        assert verify(body, plain_only, secret) == event
    except Exception:
        return None
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-webhook-signature"] == expected
    assert headers["webhook-id"] == event["id"]
    assert event["event"] == event["type"]
    return event
