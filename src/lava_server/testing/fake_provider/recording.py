"""The recorded requests: the last few, with what each was found to be for and its key."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from lava_server.testing.fake_provider.routes import Endpoint
from lava_server.testing.fake_provider.wire import JSON


class RequestLog:
    """The last ``max_recorded`` requests, oldest first."""

    def __init__(self, max_recorded: int) -> None:
        self._recorded: deque[JSON] = deque(maxlen=max(1, max_recorded))
        self._sequence = 0

    @property
    def requests(self) -> list[JSON]:
        return list(self._recorded)

    def clear(self) -> None:
        self._recorded.clear()

    def record(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        raw: bytes,
        body: Any,
        endpoint: Endpoint | None,
        key: tuple[str, str] | None,
    ) -> None:
        self._sequence += 1
        record: JSON = {
            "seq": self._sequence,
            "time": time.time(),
            "method": method,
            "path": path,
            "query": query,
            "headers": headers,
            "body": body,
            "provider": endpoint.family if endpoint else None,
            "endpoint": endpoint.kind if endpoint else None,
            "model": (endpoint.model if endpoint and endpoint.model else None)
            or (body.get("model") if isinstance(body, dict) else None),
            "api_key": key[0] if key else None,
            "key_source": key[1] if key else None,
        }
        if body is None and raw:
            record["body_text"] = raw.decode("utf-8", "replace")
        self._recorded.append(record)
