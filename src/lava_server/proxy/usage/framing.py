"""Incremental, bounded-memory framing of response bodies: SSE events, a streamed JSON array,
and a whole JSON body.

Each reader is fed raw bytes split anywhere (inside a line, between ``\\r`` and ``\\n``, inside a
multi-byte character) and gives the same result as for the whole body in one piece. None keeps
more than about ``max_event_bytes`` (+ one fed chunk): an event, element or body that grows past
it is *truncated*, keeping its first ``head_bytes`` and its last ``tail_bytes``, where the usage
block of every provider's answer is (:func:`find_last_object` digs it out).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

import orjson

from lava_server.proxy.usage.types import JSON

__all__ = [
    "DEFAULT_HEAD_BYTES",
    "DEFAULT_MAX_EVENT_BYTES",
    "DEFAULT_TAIL_BYTES",
    "BoundedBody",
    "Frame",
    "JSONArrayReader",
    "SSEDecoder",
    "find_last_object",
    "find_string_field",
    "loads_object",
]

DEFAULT_MAX_EVENT_BYTES: Final = 1 << 20
"""An SSE event, array element or JSON body larger than this is kept as head + tail only."""
DEFAULT_HEAD_BYTES: Final = 16 << 10
DEFAULT_TAIL_BYTES: Final = 128 << 10

_EOL: Final = re.compile(rb"\r\n|\r|\n")
_CR: Final = 0x0D
_LF: Final = 0x0A


@dataclass(frozen=True, slots=True)
class Frame:
    """One SSE event (or streamed array element / whole body).

    ``data`` is the complete payload, or only its first bytes when ``truncated``; ``tail`` then
    holds its last bytes (an overlap with ``data`` is possible for payloads just over the limit).
    """

    event: str
    data: bytes
    truncated: bool = False
    tail: bytes = b""


class _Accumulator:
    """A payload being collected, truncated to head + rolling tail past ``max_bytes``."""

    __slots__ = ("_head", "_max", "_tail", "_tail_max", "data", "truncated")

    def __init__(self, max_bytes: int, head_bytes: int, tail_bytes: int) -> None:
        self._max = max_bytes
        self._head = min(head_bytes, max_bytes)
        self._tail_max = tail_bytes
        self.data = bytearray()
        self.truncated = False
        self._tail = bytearray()

    def add(self, piece: bytes | bytearray | memoryview) -> None:
        if not piece:
            return
        if not self.truncated:
            self.data += piece
            if len(self.data) > self._max:
                self.truncated = True
                self._tail = bytearray(self.data[-self._tail_max :])
                del self.data[self._head :]
            return
        self._tail += piece
        if len(self._tail) > 2 * self._tail_max:
            del self._tail[: -self._tail_max]

    def __len__(self) -> int:
        return len(self.data) + len(self._tail)

    def frame(self, event: str) -> Frame:
        if self.truncated:
            return Frame(event, bytes(self.data), True, bytes(self._tail[-self._tail_max :]))
        return Frame(event, bytes(self.data))

    def reset(self) -> None:
        self.data = bytearray()
        self._tail = bytearray()
        self.truncated = False


class SSEDecoder:
    """Server-sent events (the WHATWG ``text/event-stream`` rules) from bytes fed in pieces.

    Lines end with ``\\r\\n``, ``\\n`` or ``\\r``; ``data:`` lines of one event are joined with
    ``\\n``; comments and ``id:``/``retry:`` are ignored; a blank line dispatches the event.
    At :meth:`close` a last event without its blank line is still dispatched (lenient: a final
    frame without the trailing newline still carries usage).
    """

    def __init__(
        self,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        *,
        head_bytes: int = DEFAULT_HEAD_BYTES,
        tail_bytes: int = DEFAULT_TAIL_BYTES,
    ) -> None:
        self._max = max_event_bytes
        self._line = bytearray()
        self._line_mode = 0  # 0 normal, 1 streaming a long data line, 2 discarding a long line
        self._skip_lf = False
        self._event = ""
        self._has_data = False
        self._data = _Accumulator(max_event_bytes, head_bytes, tail_bytes)

    def feed(self, chunk: bytes) -> list[Frame]:
        frames: list[Frame] = []
        if not chunk:
            return frames
        start = 0
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == _LF:
                start = 1
        view = memoryview(chunk)
        pos = start
        for m in _EOL.finditer(chunk, start):
            if m.start() > pos:
                self._take(view[pos : m.start()])
            self._end_line(frames)
            pos = m.end()
        if pos < len(chunk):
            self._take(view[pos:])
        elif chunk[-1] == _CR:
            self._skip_lf = True
        return frames

    def close(self) -> list[Frame]:
        """End of the body: the pending line and event, if any."""
        frames: list[Frame] = []
        if self._line or self._line_mode:
            self._end_line(frames)
        self._dispatch(frames)
        return frames

    # -- internals ---------------------------------------------------------------------------------

    def _take(self, piece: memoryview) -> None:
        if self._line_mode == 1:
            self._data.add(piece)
            return
        if self._line_mode == 2:
            return
        self._line += piece
        if len(self._line) > self._max:
            line = self._line
            self._line = bytearray()
            field, colon, value = bytes(line).partition(b":")
            if field == b"data" and colon:
                if value[:1] == b" ":
                    value = value[1:]
                if self._has_data:
                    self._data.add(b"\n")
                self._has_data = True
                self._data.add(value)
                self._line_mode = 1
            else:
                self._line_mode = 2

    def _end_line(self, frames: list[Frame]) -> None:
        if self._line_mode:
            self._line_mode = 0
            return
        line = self._line
        if not line:
            self._dispatch(frames)
            return
        self._line = bytearray()
        if line[0] == 0x3A:  # ":" comment
            return
        field, _, value = bytes(line).partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            if self._has_data:
                self._data.add(b"\n")
            self._has_data = True
            self._data.add(value)
        elif field == b"event":
            self._event = value.decode("utf-8", "replace")

    def _dispatch(self, frames: list[Frame]) -> None:
        if self._has_data:
            frames.append(self._data.frame(self._event))
            self._data.reset()
            self._has_data = False
        self._event = ""


class JSONArrayReader:
    """The elements of a top-level JSON array streamed in pieces (Gemini's
    ``streamGenerateContent`` without ``alt=sse``): ``[{...}\\n,\\r\\n{...}\\n]``.

    Elements come out as :class:`Frame` with an empty ``event``. Whitespace and commas between
    elements are skipped; anything before the opening ``[`` is ignored.
    """

    _INTERESTING: Final = re.compile(rb'["{}\[\]]')
    _IN_STRING: Final = re.compile(rb'["\\]')

    def __init__(
        self,
        max_element_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        *,
        head_bytes: int = DEFAULT_HEAD_BYTES,
        tail_bytes: int = DEFAULT_TAIL_BYTES,
    ) -> None:
        self._started = False
        self._ended = False
        self._depth = 0
        self._in_string = False
        self._escape = False
        self._scalar = bytearray()  # a bare scalar element (number, true...), rare
        self._element = _Accumulator(max_element_bytes, head_bytes, tail_bytes)

    def feed(self, chunk: bytes) -> list[Frame]:
        frames: list[Frame] = []
        pos = 0
        n = len(chunk)
        while pos < n and not self._ended:
            if not self._started:
                i = chunk.find(b"[", pos)
                if i < 0:
                    return frames
                self._started = True
                pos = i + 1
                continue
            if self._depth == 0 and not self._in_string:
                # Between elements: skip separators; an object/array/string starts an element.
                while pos < n and chunk[pos] in b" \t\r\n,":
                    if self._scalar:
                        self._flush_scalar(frames)
                    pos += 1
                if pos >= n:
                    break
                c = chunk[pos]
                if c == 0x5D:  # "]": end of the array
                    if self._scalar:
                        self._flush_scalar(frames)
                    self._ended = True
                    break
                if c in b"{[":
                    self._depth = 1
                    self._element.add(chunk[pos : pos + 1])
                    pos += 1
                elif c == 0x22:
                    self._in_string = True
                    self._element.add(chunk[pos : pos + 1])
                    pos += 1
                else:
                    if len(self._scalar) < 64:
                        self._scalar.append(c)
                    pos += 1
                continue
            pos = self._scan(chunk, pos, frames)
        return frames

    def _scan(self, chunk: bytes, pos: int, frames: list[Frame]) -> int:
        """Consume element bytes from ``pos``; returns where it stopped."""
        n = len(chunk)
        start = pos
        while pos < n:
            if self._in_string:
                if self._escape:
                    self._escape = False
                    pos += 1
                    continue
                m = self._IN_STRING.search(chunk, pos)
                if m is None:
                    pos = n
                    break
                pos = m.end()
                if m.group() == b"\\":
                    self._escape = True
                else:
                    self._in_string = False
                    if self._depth == 0:  # a top-level string element ended
                        self._element.add(chunk[start:pos])
                        self._emit(frames)
                        return pos
                continue
            m = self._INTERESTING.search(chunk, pos)
            if m is None:
                pos = n
                break
            pos = m.end()
            c = m.group()
            if c == b'"':
                self._in_string = True
            elif c in (b"{", b"["):
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 0:
                    self._element.add(chunk[start:pos])
                    self._emit(frames)
                    return pos
        self._element.add(chunk[start:pos])
        return pos

    def _emit(self, frames: list[Frame]) -> None:
        frames.append(self._element.frame(""))
        self._element.reset()

    def _flush_scalar(self, frames: list[Frame]) -> None:
        frames.append(Frame("", bytes(self._scalar)))
        self._scalar.clear()

    def close(self) -> list[Frame]:
        """End of the body: an unterminated element is given as it is (it will not parse)."""
        frames: list[Frame] = []
        if len(self._element):
            self._emit(frames)
        if self._scalar:
            self._flush_scalar(frames)
        return frames

    @property
    def ended(self) -> bool:
        """True once the closing ``]`` was read."""
        return self._ended


class BoundedBody:
    """A (non-streamed) response body kept whole up to ``max_bytes``, else as head + tail."""

    def __init__(
        self,
        max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        *,
        head_bytes: int = DEFAULT_HEAD_BYTES,
        tail_bytes: int = DEFAULT_TAIL_BYTES,
    ) -> None:
        self._acc = _Accumulator(max_bytes, head_bytes, tail_bytes)
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._acc.add(chunk)

    def frame(self) -> Frame:
        return self._acc.frame("")


_DECODER: Final = json.JSONDecoder()


def loads_object(data: bytes | str) -> JSON | None:
    """``data`` (UTF-8) decoded as a JSON object, or ``None`` (not JSON, not an object)."""
    try:
        value = orjson.loads(data)  # validates UTF-8 itself
    except (ValueError, RecursionError):  # orjson.JSONDecodeError is a ValueError
        return None
    return value if isinstance(value, dict) else None


def find_last_object(text: bytes, key: str, *, require: tuple[str, ...] = ()) -> JSON | None:
    """The value of the last ``"key": {...}`` in a fragment of JSON (a truncated body's tail).

    A raw ``"key":`` can only be a real key there: inside a JSON string the quotes are escaped.
    Occurrences are tried from the last one back; one whose object has none of ``require`` is
    skipped (a tool schema property named ``usage``, say).
    """
    pattern = re.compile(rb'"' + re.escape(key.encode()) + rb'"\s*:\s*\{')
    starts = [m.end() - 1 for m in pattern.finditer(text)]
    for start in reversed(starts):
        try:
            value, _ = _DECODER.raw_decode(text[start:].decode("utf-8", "replace"))
        except (ValueError, RecursionError):  # a provider's tail nested past Python's limit
            continue
        if isinstance(value, dict) and (not require or any(k in value for k in require)):
            return value
    return None


def find_string_field(text: bytes, key: str) -> str | None:
    """The first ``"key": "<string>"`` value in a fragment of JSON (a truncated body's head)."""
    m = re.search(rb'"' + re.escape(key.encode()) + rb'"\s*:\s*("(?:[^"\\]|\\.)*")', text)
    if m is None:
        return None
    try:
        value = json.loads(m.group(1))
    except ValueError:
        return None
    return value if isinstance(value, str) else None
