"""Token counting, and the generated answer whose tokens are counted."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

IMAGE_TOKENS = 85
"""Input tokens counted for each image part."""

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """The fake tokenizer: a token per run of word characters, one per other non-space character."""
    return len(_TOKEN_RE.findall(text))


_ANSWER_WORDS = [
    "Hello",
    "from",
    "the",
    "Lava",
    "fake",
    "provider",
    "this",
    "answer",
    "is",
    "deterministic",
    "and",
    "its",
    "usage",
    "is",
    "derived",
    "from",
    "the",
    "request",
    "so",
    "that",
    "every",
    "bill",
    "can",
    "be",
    "checked",
    "to",
    "the",
    "token",
    "by",
    "the",
    "tests",
    "of",
    "the",
    "forward",
    "proxy",
]


@lru_cache(maxsize=128)
def answer_pieces(n: int) -> tuple[str, ...]:
    """The answer's stream pieces: word ``i`` with a leading space after the first."""
    words = len(_ANSWER_WORDS)
    return tuple(
        (_ANSWER_WORDS[i % words] if i == 0 else " " + _ANSWER_WORDS[i % words]) for i in range(n)
    )


def answer_text(n: int) -> str:
    """The text of an answer of ``n`` output tokens (``count_tokens(answer_text(n)) == n``)."""
    return "".join(answer_pieces(n))


_TEXT_KEYS = frozenset(
    {
        "arguments",
        "content",
        "contents",
        "function",
        "input",
        "instructions",
        "messages",
        "output",
        "parts",
        "system",
        "systemInstruction",
        "system_instruction",
        "text",
        "tool_calls",
    }
)
_IMAGE_TYPES = frozenset({"image", "image_url", "input_image"})


def count_input(value: Any) -> int:
    """Tokens of the text inside a request fragment (messages, contents, inputs...)."""
    if isinstance(value, str):
        return count_tokens(value)
    if isinstance(value, list):
        total = 0
        for item in value:
            if type(item) is int:  # a token-id array (embeddings, legacy prompts)
                total += 1
            else:
                total += count_input(item)
        return total
    if isinstance(value, dict):
        total = 0
        for key, item in value.items():
            if key in _TEXT_KEYS:
                total += count_input(item)
        if (
            value.get("type") in _IMAGE_TYPES
            or "inlineData" in value
            or "inline_data" in value
            or "fileData" in value
        ):
            total += IMAGE_TOKENS
        return total
    return 0
