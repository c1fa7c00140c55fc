"""Rules every untrusted input obeys before anything acts on it, whichever door it came in by.

- JSON is nested at most `MAX_JSON_DEPTH` levels:
  deeper documents are refused, never walked by recursive code (Python's recursion limit would
  turn them into a 500).
- Text holds no NUL character. PostgreSQL cannot store one in text or JSONB while SQLite can, so
  the two databases would disagree; refusing it everywhere is the one rule for both.

`parse_json` and `refusal` give the field at fault, so that callers answer a 400 naming it.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

MAX_JSON_DEPTH = 32
"""Deepest JSON accepted in API bodies, metadata, filters and tokens (ours are 3 deep at most)."""

NUL = "\x00"


class UntrustedJSONError(ValueError):
    """JSON that breaks a rule; `path` is the field at fault (`""` for the document)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path or 'the document'} {problem}")
        self.path = path
        self.problem = problem


def parse_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON from an untrusted source (orjson: never recursion in Python, UTF-8 checked).

    Raises `ValueError` for malformed JSON and `UntrustedJSONError` for a document nested deeper
    than `max_depth` or holding a NUL character in a key or a string."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson refuses past 1024 levels like any malformed document: tell the two apart
        field = _too_deep_at(raw.encode() if isinstance(raw, str) else raw, max_depth)
        if field is not None:
            raise _too_deep(field, max_depth) from None
        raise
    problem = refusal(value, max_depth=max_depth)
    if problem is not None:
        raise problem
    return value


def refusal(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> UntrustedJSONError | None:
    """Why a parsed JSON value breaks a rule (the first problem found), or None.

    Walks with an explicit stack, so any depth that the parser accepted is safe to check."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return UntrustedJSONError(path, "must not contain NUL characters (\\u0000)")
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth >= max_depth:
            return _too_deep(_top(path), max_depth)
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if NUL in key:
                    return UntrustedJSONError(path, "must not contain NUL characters (\\u0000)")
                stack.append((child, child_path, depth + 1))
        else:
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
    return None


def _too_deep(field: str, max_depth: int) -> UntrustedJSONError:
    return UntrustedJSONError(field, f"is nested too deeply (more than {max_depth} levels)")


_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _too_deep_at(raw: bytes, max_depth: int) -> str | None:
    """For a document the parser refused: the top-level field under which it nests deeper than
    `max_depth` (`""` for the document itself), or None when it does not."""
    depth = 0
    key = last_string = ""
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token[0] == 0x22:  # a string: keys and values alike, skipped whole
            if depth == 1:
                last_string = token.decode("utf-8", "replace")[1:-1]
        elif token in (b"[", b"{"):
            depth += 1
            if depth == 2:
                key = last_string
            if depth > max_depth:
                return key
        else:
            depth -= 1
    return None


def _top(path: str) -> str:
    """The top-level field of a path (`metadata.a[0].b` → `metadata`): the one a caller wrote."""
    for i, char in enumerate(path):
        if char in ".[":
            return path[:i]
    return path


def may_break_rules(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """A quick screen of a JSON body (no parsing): False when it certainly keeps both rules, so
    that ordinary bodies on the hot paths are never walked. An escaped NUL is written `\\u0000`
    (a raw control character is malformed JSON anyway); depth needs at least that many brackets."""
    return b"\\u0000" in raw or raw.count(b"{") + raw.count(b"[") > max_depth
