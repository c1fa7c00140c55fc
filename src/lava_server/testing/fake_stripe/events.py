"""Events, and their delivery to the webhook URL signed as Stripe signs them.

Each event is POSTed as JSON with ``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<payload>" keyed with the webhook secret>``, which ``stripe.Webhook.construct_event`` checks.
An answer outside 2xx, a timeout or a refused connection is retried ``max_attempts - 1`` times,
``retry_seconds``, then twice, four times... that long apart. Every attempt is recorded.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from lava_server.testing.fake_stripe.store import Call, new_id

JSON = dict[str, Any]

API_VERSION = "2026-10-28.endive"
"""The ``api_version`` of the events (the installed ``stripe`` library's version when written)."""
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header of ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


@dataclass
class WebhookConfig:
    url: str | None = None
    secret: str = "whsec_fake"
    enabled_events: list[str] = field(default_factory=lambda: ["*"])
    max_attempts: int = 4
    retry_seconds: float = 0.5
    timeout_seconds: float = 10.0

    def wants(self, event_type: str) -> bool:
        for pattern in self.enabled_events:
            if pattern == "*" or pattern == event_type:
                return True
            if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
                return True
        return False

    def public(self) -> JSON:
        return {
            "url": self.url,
            "secret": self.secret,
            "enabled_events": list(self.enabled_events),
            "max_attempts": self.max_attempts,
            "retry_seconds": self.retry_seconds,
            "timeout_seconds": self.timeout_seconds,
        }


class Events:
    """The events emitted so far (oldest first), their deliveries, and the tasks delivering."""

    def __init__(self, config: WebhookConfig, api_version: str = API_VERSION) -> None:
        self.config = config
        self.api_version = api_version
        self.events: dict[str, JSON] = {}
        self.attempts: list[JSON] = []
        self._tasks: set[asyncio.Future[Any]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._tail: asyncio.Event | None = None

    def reset(self) -> None:
        self.events.clear()
        self.attempts.clear()
        self._tail = None

    # -- emitting ----------------------------------------------------------------------------

    def emit(self, event_type: str, obj: JSON, call: Call, previous: JSON | None) -> None:
        """Record an event and start delivering it (a callback of :class:`.store.Store`)."""
        data: JSON = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        wanted = self.config.url is not None and self.config.wants(event_type)
        event: JSON = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": self.api_version,
            "created": int(time.time()),
            "data": data,
            "livemode": bool(obj.get("livemode", call.livemode)),
            "pending_webhooks": 1 if wanted else 0,
            "request": {"id": call.request_id, "idempotency_key": call.idempotency_key},
            "type": event_type,
        }
        self.events[event["id"]] = event
        if wanted:
            # First attempts go out one at a time, in the order of the events; retries do not
            # hold the events after them back.
            before, self._tail = self._tail, asyncio.Event()
            self._spawn(self._deliver_with_retries(event["id"], before, self._tail))

    def _spawn(self, coroutine: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            task: asyncio.Future[Any] = loop.create_task(coroutine)
        elif self.loop is not None:
            task = asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(coroutine, self.loop), loop=self.loop
            )
        else:
            coroutine.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def list_events(self, params: JSON, url: str, livemode: bool) -> JSON:
        """``GET /v1/events``: newest first; ``type`` (``charge.*`` too), ``limit``,
        ``starting_after``."""
        items = [e for e in reversed(self.events.values()) if e["livemode"] == livemode]
        wanted = params.get("type")
        if isinstance(wanted, str) and wanted:
            if wanted.endswith(".*"):
                items = [e for e in items if e["type"].startswith(wanted[:-1])]
            else:
                items = [e for e in items if e["type"] == wanted]
        types = params.get("types")
        if isinstance(types, list):
            items = [e for e in items if e["type"] in types]
        after = params.get("starting_after")
        if isinstance(after, str) and after:
            ids = [e["id"] for e in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        limit_text = params.get("limit")
        limit = int(limit_text) if isinstance(limit_text, str) and limit_text.isdigit() else 10
        limit = max(1, min(limit, 100))
        return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": url}

    # -- delivering --------------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._client = httpx.AsyncClient()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def drain(self, timeout: float) -> int:
        """Wait until no delivery is under way (or ``timeout``); the number still under way."""
        deadline = time.monotonic() + timeout
        while True:
            pending = [task for task in self._tasks if not task.done()]
            left = deadline - time.monotonic()
            if not pending or left <= 0:
                return len(pending)
            await asyncio.wait(pending, timeout=left)

    def _client_or_new(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    async def deliver_once(self, event_id: str, *, reason: str = "manual") -> JSON:
        """One signed POST of the event to the webhook URL; the attempt recorded."""
        event = self.events[event_id]
        config = self.config
        attempt: JSON = {
            "event": event_id,
            "type": event["type"],
            "url": config.url,
            "attempt": 1 + sum(1 for a in self.attempts if a["event"] == event_id),
            "reason": reason,
            "time": time.time(),
            "status": None,
            "error": None,
            "ok": False,
        }
        self.attempts.append(attempt)
        if config.url is None:
            attempt["error"] = "no webhook URL is set"
            return attempt
        payload = json.dumps(event, indent=2).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": sign(payload, config.secret),
        }
        try:
            answer = await self._client_or_new().post(
                config.url, content=payload, headers=headers, timeout=config.timeout_seconds
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            attempt["error"] = f"{type(exc).__name__}: {exc}"
            return attempt
        attempt["status"] = answer.status_code
        attempt["ok"] = 200 <= answer.status_code < 300
        attempt["body"] = answer.text[:1000]
        return attempt

    async def _deliver_with_retries(
        self, event_id: str, previous: asyncio.Event | None, first_done: asyncio.Event
    ) -> None:
        try:
            if previous is not None:
                await previous.wait()
            event = self.events.get(event_id)
            if event is None:
                return  # reset meanwhile
            attempt = await self.deliver_once(event_id, reason="automatic")
        finally:
            first_done.set()
        config = self.config
        number = 1
        while not attempt["ok"] and number < config.max_attempts:
            await asyncio.sleep(config.retry_seconds * 2 ** (number - 1))
            if self.events.get(event_id) is not event:
                return  # reset meanwhile
            attempt = await self.deliver_once(event_id, reason="retry")
            number += 1
        event["pending_webhooks"] = 0

    async def redeliver(
        self, event_ids: Iterable[str], times: int, concurrently: bool
    ) -> list[JSON]:
        """Deliver each event ``times`` times, all at once or one after the other; the attempts."""
        jobs = [event_id for event_id in event_ids for _ in range(max(1, times))]
        if concurrently:
            return list(await asyncio.gather(*(self.deliver_once(e) for e in jobs)))
        return [await self.deliver_once(e) for e in jobs]
