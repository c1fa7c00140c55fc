"""Test controls: the ``fake-...`` words that ask for errors, delays, stalls and odd usage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SLOW_SECONDS = 5.0
"""Delay added by ``fake-slow``."""
HANG_SECONDS = 60.0
"""Stall of ``fake-hang-midstream``."""
MIDSTREAM_AFTER_CHUNKS = 4
"""Chunks sent before a midstream control acts (fewer when the stream is shorter)."""
MAX_OUTPUT_TOKENS = 100_000
"""Upper bound of ``fake-tokens-<N>``."""


@dataclass(frozen=True, slots=True)
class Controls:
    """Behaviours asked for by ``fake-...`` words in the request (see the package docstring)."""

    error_status: int | None = None
    slow_seconds: float = 0.0
    hang_midstream: bool = False
    drop_midstream: bool = False
    error_midstream: bool = False
    no_usage: bool = False
    usage_on_last_chunk: bool = False
    output_tokens: int | None = None
    cache_read: bool = False
    cache_write: bool = False
    claimed_output_tokens: int | None = None

    @property
    def midstream(self) -> bool:
        return self.hang_midstream or self.drop_midstream or self.error_midstream


_NO_CONTROLS = Controls()
_CONTROL_RE = re.compile(
    r"fake-(?:error-(?P<status>[45]\d\d)(?!\d)|slow-(?P<slow_ms>\d+)ms|tokens-(?P<tokens>\d+)"
    r"|claim-(?P<claim>\d+)"
    r"|(?P<flag>error-midstream|hang-midstream|drop-midstream|no-usage|usage-on-last-chunk"
    r"|cache-read|cache-write|slow))"
)
_FLAG_FIELDS = {
    "error-midstream": "error_midstream",
    "hang-midstream": "hang_midstream",
    "drop-midstream": "drop_midstream",
    "no-usage": "no_usage",
    "usage-on-last-chunk": "usage_on_last_chunk",
    "cache-read": "cache_read",
    "cache-write": "cache_write",
}


def parse_controls(*sources: str) -> Controls:
    """The controls named in ``sources`` (body text, path, query string)."""
    found: dict[str, Any] = {}
    for source in sources:
        if "fake-" not in source:
            continue
        for match in _CONTROL_RE.finditer(source):
            if match["status"] is not None:
                found["error_status"] = int(match["status"])
            elif match["slow_ms"] is not None:
                found["slow_seconds"] = int(match["slow_ms"]) / 1000
            elif match["tokens"] is not None:
                found["output_tokens"] = min(int(match["tokens"]), MAX_OUTPUT_TOKENS)
            elif match["claim"] is not None:
                found["claimed_output_tokens"] = int(match["claim"])
            elif match["flag"] == "slow":
                found.setdefault("slow_seconds", SLOW_SECONDS)
            else:
                found[_FLAG_FIELDS[match["flag"]]] = True
    return Controls(**found) if found else _NO_CONTROLS
