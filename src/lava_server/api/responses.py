"""JSON answers written straight to bytes (orjson), skipping FastAPI's response-model pass."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONBody(Response):
    """For hot routes: the body is already the wire shape (money as strings, ISO timestamps)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
