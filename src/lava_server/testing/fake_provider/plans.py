"""What an answer contains: a text answer's input accounting and output, a speech answer's bytes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lava_server.testing.fake_provider.controls import Controls
from lava_server.testing.fake_provider.tokens import answer_pieces

DEFAULT_OUTPUT_TOKENS = 16
"""Output tokens (words) generated when no control and no cap says otherwise."""
REASONING_TOKENS = 16
"""Hidden reasoning/thinking tokens spent by reasoning models."""


@dataclass(frozen=True, slots=True)
class Plan:
    """The answer to one request: its input accounting and its output."""

    input_tokens: int  # all prompt tokens, cached ones included
    cache_read: int
    cache_write: int
    pieces: tuple[str, ...]  # visible output, one token per piece
    reasoning: int
    truncated: bool  # stopped by the caller's max tokens
    claimed_output_tokens: int | None = None  # what the usage block says instead (fake-claim-N)

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def output_tokens(self) -> int:
        return len(self.pieces) + self.reasoning


def as_int(value: Any) -> int | None:
    """A request's non-negative integer field (a max tokens cap, a dimension count), else None."""
    if type(value) is int and value >= 0:
        return value
    return None


def plan_answer(
    input_tokens: int, cap: int | None, controls: Controls, *, reasoning_model: bool
) -> Plan:
    input_tokens = max(1, input_tokens)
    wanted = DEFAULT_OUTPUT_TOKENS if controls.output_tokens is None else controls.output_tokens
    reasoning = REASONING_TOKENS if reasoning_model else 0
    truncated = False
    if cap is not None:
        reasoning = min(reasoning, cap)
        if wanted > cap - reasoning:
            wanted = cap - reasoning
            truncated = True
    half = input_tokens // 2
    return Plan(
        input_tokens=input_tokens,
        cache_read=half if controls.cache_read else 0,
        cache_write=half if controls.cache_write and not controls.cache_read else 0,
        pieces=answer_pieces(wanted),
        reasoning=reasoning,
        truncated=truncated,
        claimed_output_tokens=controls.claimed_output_tokens,
    )


_MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(413)  # one silent MPEG-1 Layer III frame, 128 kbit/s


@lru_cache(maxsize=64)
def fake_audio(characters: int) -> bytes:
    """Bytes that look like an MP3 file, longer for longer texts (a frame per 4 characters)."""
    frames = max(1, min(characters, 20_000) // 4)
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + _MP3_FRAME * frames
