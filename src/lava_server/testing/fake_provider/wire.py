"""Putting answers on the wire: JSON and SSE encoding, ids, and the pacing of streamed frames.

:class:`Sender` sends an answer whole or frame by frame, ``chunk_delay`` apart, and is where the
midstream controls act (stall, drop the connection, or end with the provider's in-stream error).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.responses import Response, StreamingResponse

from lava_server.testing.fake_provider.controls import (
    HANG_SECONDS,
    MIDSTREAM_AFTER_CHUNKS,
    Controls,
)

JSON = dict[str, Any]

compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps(obj: Any) -> bytes:
    return compact(obj).encode()


def sse(obj: Any) -> bytes:
    return b"data: " + dumps(obj) + b"\n\n"


def sse_event(event: str, obj: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + dumps(obj) + b"\n\n"


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(obj), status, headers, "application/json")


class ConnectionDropped(Exception):
    """Raised inside a stream to make the server close the connection abruptly."""


def _is_dropped(exc: BaseException | None) -> bool:
    if exc is None:
        return False
    if isinstance(exc, ConnectionDropped):
        return True
    inner = getattr(exc, "exceptions", None)
    return isinstance(inner, tuple) and any(_is_dropped(e) for e in inner)


class _DroppedConnectionFilter(logging.Filter):
    """Keeps uvicorn from logging a traceback for each ``fake-drop-midstream``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _is_dropped(record.exc_info[1]))


def install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DroppedConnectionFilter) for f in logger.filters):
        logger.addFilter(_DroppedConnectionFilter())


_SSE_HEADERS = {"cache-control": "no-cache"}


class Sender:
    """Sends a provider's answers, with ``chunk_delay`` seconds between stream frames."""

    def __init__(self, chunk_delay: float) -> None:
        self.chunk_delay = chunk_delay

    def json(self, headers: dict[str, str], obj: Any, controls: Controls) -> Response:
        """A JSON answer; under a midstream control, sent in two halves with the control between."""
        if not controls.midstream:
            return Response(dumps(obj), 200, headers, "application/json")
        data = dumps(obj)
        half = len(data) // 2
        headers["content-length"] = str(len(data))
        return StreamingResponse(
            self._emit([data[:half], data[half:]], controls, None),
            200,
            headers,
            "application/json",
        )

    def stream(
        self,
        headers: dict[str, str],
        frames: list[bytes],
        controls: Controls,
        error_frame: bytes | None,
        media_type: str = "text/event-stream; charset=utf-8",
    ) -> Response:
        """A streamed answer; ``error_frame`` is what ``fake-error-midstream`` sends instead."""
        headers.update(_SSE_HEADERS)
        return StreamingResponse(
            self._emit(frames, controls, error_frame), 200, headers, media_type
        )

    async def _emit(
        self, frames: Sequence[bytes], controls: Controls, error_frame: bytes | None
    ) -> AsyncIterator[bytes]:
        """Send ``frames`` one by one, acting on the midstream controls."""
        trigger = min(MIDSTREAM_AFTER_CHUNKS, len(frames) - 1) if controls.midstream else -1
        delay = self.chunk_delay
        for index, frame in enumerate(frames):
            if index and delay:
                await asyncio.sleep(delay)
            if index == trigger:
                if controls.drop_midstream:
                    raise ConnectionDropped("fake-drop-midstream")
                if controls.error_midstream and error_frame is not None:
                    yield error_frame
                    return
                if controls.hang_midstream:
                    await asyncio.sleep(HANG_SECONDS)
            yield frame
