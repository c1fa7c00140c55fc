"""`Idempotency-Key` on POST (`docs/api.md#idempotency`), as an ASGI middleware around the API.

The first request with a key claims it (a row with no answer yet), runs, and stores its answer.
A later request with the same key and the same method, path and body gets that answer again
(`Idempotent-Replayed: true`) without acting; with a different body, or while the first one is
still running, it gets 409. Answers of 5xx and 429 are not kept, so the client may retry them.
A claim stays the first request's while its server process lives: when that process died before
answering (not seen alive for `abandoned_after_seconds`, and the claim at least that old), the
next request with the key and the same body takes the claim over and runs.
Keys are scoped to the secret key that sent them and kept `idempotency_ttl_hours`. The key is
checked first: a request without an active secret key (or past its rate limit) stores nothing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lava_server.api import repository
from lava_server.api.auth import verified_caller
from lava_server.api.context import read_body, replaying
from lava_server.api.state import AppState
from lava_server.db.models import IdempotencyKey
from lava_server.errors import BodyTooLarge, send_error

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, state: AppState, exclude_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.state = state
        self.exclude_prefixes = exclude_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        raw_key = headers.get(HEADER)
        path: str = scope["path"]
        if raw_key is None or path.startswith(self.exclude_prefixes):
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not (0 < len(key) <= MAX_KEY_LENGTH) or not key.isprintable():
            await send_error(
                send,
                400,
                "invalid_request",
                "Idempotency-Key must be 1 to 255 printable characters.",
                "Idempotency-Key",
            )
            return
        if await verified_caller(self.state, scope) is None:
            # Authentication first: a request without an active key (or past its rate limit)
            # stores nothing; its route answers why.
            await self.app(scope, receive, send)
            return
        authorization = headers.get(b"authorization", b"")
        scope_id = hashlib.sha256(authorization).hexdigest()

        try:
            body = await read_body(receive)
        except BodyTooLarge:
            await send_error(send, 413, "payload_too_large", "The request body is too large.")
            return
        if body is None:
            return  # the client left before sending its request
        request_hash = hashlib.sha256(
            b"\0".join([path.encode(), scope.get("query_string", b""), body])
        ).hexdigest()

        outcome = await self._claim(scope_id, key, request_hash)
        if isinstance(outcome, tuple):
            status, stored = outcome
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(stored)).encode()),
                        (b"idempotent-replayed", b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": stored})
            return
        if outcome is not None:
            await send_error(send, 409, "conflict", outcome, "Idempotency-Key")
            return

        status_code = 500
        chunks: list[bytes] = []
        held: list[Message] = []

        async def capture(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    # The answer ends only once it is stored: a client that sends the same key
                    # as soon as it has its answer then gets it again, not a 409.
                    held.append(message)
                    return
            await send(message)

        try:
            await self.app(scope, replaying(body, receive), capture)
        finally:
            try:
                await self._finish(scope_id, key, status_code, b"".join(chunks))
            finally:
                for message in held:
                    await send(message)

    async def _claim(
        self, scope_id: str, key: str, request_hash: str
    ) -> str | tuple[int, bytes] | None:
        """None: claimed, go on. A tuple: the stored answer. A string: why it is a conflict."""
        now = datetime.now(timezone.utc)
        expired_before = now - timedelta(hours=self.state.settings.idempotency_ttl_hours)
        for _ in range(2):
            try:
                async with self.state.db.write() as session:
                    row = await repository.idempotency_key(session, scope_id, key)
                    if row is not None and row.created_at < expired_before:
                        await repository.remove_idempotency_key(session, row)
                        row = None
                    if row is None:
                        repository.add_idempotency_key(
                            session,
                            IdempotencyKey(
                                scope=scope_id,
                                key=key,
                                request_hash=request_hash,
                                created_at=now,
                                process_id=self.state.process_id,
                            ),
                        )
                        return None
                    if row.request_hash != request_hash:
                        return (
                            "This Idempotency-Key was already used with a different request; "
                            "use a new key for a new request."
                        )
                    if row.status_code is None or row.response_body is None:
                        orphan = timedelta(seconds=self.state.settings.abandoned_after_seconds)
                        if await repository.take_over_claim(
                            session,
                            row,
                            process_id=self.state.process_id,
                            claimed_before=now - orphan,
                            seen_before=now - orphan,
                            now=now,
                        ):
                            return None
                        return (
                            "A request with this Idempotency-Key is still being processed; "
                            "retry later."
                        )
                    return row.status_code, row.response_body
            except IntegrityError:
                continue  # claimed concurrently: read it again
        return "A request with this Idempotency-Key is still being processed; retry later."

    async def _finish(self, scope_id: str, key: str, status: int, body: bytes) -> None:
        async with self.state.db.write() as session:
            if status >= 500 or status == 429:
                await repository.forget_answer(session, scope_id, key)
            else:
                await repository.store_answer(session, scope_id, key, status, body)


async def purge_expired(state: AppState) -> int:
    """Delete keys older than the TTL; returns how many."""
    cutoff = datetime.now(timezone.utc) - timedelta(hours=state.settings.idempotency_ttl_hours)
    async with state.db.write() as session:
        return await repository.purge_idempotency_keys(session, cutoff)
