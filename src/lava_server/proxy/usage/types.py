"""What every usage extractor returns, and the interface of the incremental parsers.

Conventions (the same for every provider family, whatever the provider's own wire format):

- ``input_tokens`` is *all* prompt tokens: uncached + cache reads + cache writes (+ audio/image
  tokens). Anthropic reports ``input_tokens`` without the cache: its extractor adds the cache
  fields back, so that ``input_tokens`` means the same thing everywhere.
- ``output_tokens`` is *all* generated tokens, reasoning/thinking included (OpenAI already counts
  reasoning in ``completion_tokens``; Gemini's ``thoughtsTokenCount`` and xAI's additive
  ``reasoning_tokens`` are added).
- ``cache_read_tokens``, ``cache_write_tokens`` (all TTLs), ``input_audio_tokens`` are parts of
  ``input_tokens``; ``cache_write_1h_tokens`` is the part of ``cache_write_tokens`` written with a
  one-hour TTL (Anthropic); ``reasoning_tokens`` and ``output_audio_tokens`` are parts of
  ``output_tokens``. The constructor helper :func:`make_usage` clamps them so that this always
  holds, whatever a provider sent.
- Characters (text to speech) and seconds (transcription) are whole numbers; fractional seconds
  are rounded up.
- ``estimated`` is true when any count was estimated instead of read from the provider's answer.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Final, Literal

from lava_server.pricing import Usage

__all__ = [
    "JSON",
    "ApiKind",
    "TextTally",
    "Usage",
    "UsageParser",
    "as_count",
    "as_dict",
    "as_str",
    "make_usage",
]

JSON = dict[str, Any]
"""A decoded JSON object."""

ApiKind = Literal[
    "chat_completions",
    "completions",
    "responses",
    "embeddings",
    "anthropic_messages",
    "gemini_generate",
    "openai_speech",
    "openai_transcription",
    "elevenlabs_tts",
    "unknown",
]
"""The API a forwarded call speaks (see :func:`lava_server.proxy.usage.detect_api`)."""


def as_count(value: object) -> int | None:
    """A non-negative whole count from a JSON value (ints, integral floats, numeric strings), or
    ``None`` when there is none. Fractions are rounded up; booleans and garbage are ``None``."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if value >= 0 else 0
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return max(0, math.ceil(value))
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return as_count(number)
    return None


def as_dict(value: object) -> JSON | None:
    return value if isinstance(value, dict) else None


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def make_usage(
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
    reasoning_tokens: int = 0,
    input_audio_tokens: int = 0,
    output_audio_tokens: int = 0,
    input_characters: int = 0,
    output_characters: int = 0,
    input_seconds: int = 0,
    output_seconds: int = 0,
    model: str | None = None,
    response_id: str | None = None,
    estimated: bool = False,
) -> Usage:
    """An :class:`Usage` whose parts never exceed their wholes (negative counts are 0).

    When a provider reports more cached tokens than prompt tokens, the prompt total is raised to
    the parts' sum rather than the parts cut: the cache fields are the more specific report.
    """
    values = [
        max(0, v)
        for v in (
            input_tokens,
            output_tokens,
            cache_read_tokens,
            cache_write_tokens,
            cache_write_1h_tokens,
            reasoning_tokens,
            input_audio_tokens,
            output_audio_tokens,
            input_characters,
            output_characters,
            input_seconds,
            output_seconds,
        )
    ]
    (
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        reasoning_tokens,
        input_audio_tokens,
        output_audio_tokens,
        input_characters,
        output_characters,
        input_seconds,
        output_seconds,
    ) = values
    cache_write_1h_tokens = min(cache_write_1h_tokens, cache_write_tokens)
    input_tokens = max(input_tokens, cache_read_tokens + cache_write_tokens, input_audio_tokens)
    output_tokens = max(output_tokens, reasoning_tokens, output_audio_tokens)
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
        cache_write_1h_tokens=cache_write_1h_tokens,
        reasoning_tokens=reasoning_tokens,
        input_audio_tokens=input_audio_tokens,
        output_audio_tokens=output_audio_tokens,
        input_characters=input_characters,
        output_characters=output_characters,
        input_seconds=input_seconds,
        output_seconds=output_seconds,
        model=model or None,
        response_id=response_id or None,
        estimated=estimated,
    )


DEFAULT_KEEP_CHARS: Final = 32_768
"""Characters of generated text a :class:`TextTally` keeps for tokenising."""


class TextTally:
    """The generated text seen in a stream, for estimating output tokens when the provider does
    not report them (a disconnect, a provider without usage).

    Memory is bounded: the first ``keep_chars`` characters are kept and tokenised at the end; the
    rest is only counted, and its tokens are extrapolated at the kept text's characters per token.
    """

    __slots__ = ("_keep", "_kept", "_kept_len", "chars")

    def __init__(self, keep_chars: int = DEFAULT_KEEP_CHARS) -> None:
        self._keep = keep_chars
        self._kept: list[str] = []
        self._kept_len = 0
        self.chars = 0

    def add(self, text: str) -> None:
        if not text:
            return
        self.chars += len(text)
        room = self._keep - self._kept_len
        if room > 0:
            piece = text if len(text) <= room else text[:room]
            self._kept.append(piece)
            self._kept_len += len(piece)

    def tokens(self, count: Callable[[str], int]) -> int:
        """Estimated tokens of all the text seen, with ``count`` as the tokenizer."""
        if self.chars == 0:
            return 0
        kept = "".join(self._kept)
        tokens = count(kept)
        if self.chars > self._kept_len and self._kept_len:
            tokens = math.ceil(tokens * self.chars / self._kept_len)
        return max(tokens, 1)


class UsageParser(ABC):
    """Reads the usage of one forwarded call from its response body, fed as it is relayed.

    ``feed`` takes the raw response bytes in whatever pieces they arrive (SSE framing may be split
    anywhere); memory stays bounded whatever the length of the answer. ``finish`` gives the usage:
    with ``complete=False`` (client disconnect, upstream failure mid-body) it reports what was
    seen so far and estimates the rest. ``finish`` may be called once; ``feed`` never after it.
    """

    def __init__(self) -> None:
        self.error: str | None = None
        """An error the provider reported inside a 200 answer (an SSE ``error`` event,
        ``response.failed``...), as a short message; ``None`` if there was none."""
        self.done: bool = False
        """True once the answer's terminal event was seen (a complete JSON body, ``[DONE]``,
        ``message_stop``, ``response.completed``, a final ``finishReason``...)."""

    @abstractmethod
    def feed(self, chunk: bytes) -> None: ...

    @abstractmethod
    def finish(self, *, complete: bool = True) -> Usage: ...
