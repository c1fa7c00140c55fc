"""Audio: OpenAI text to speech, ElevenLabs text to speech, OpenAI-style transcription.

- OpenAI ``/audio/speech``: billed by the characters of the request's ``input``
  (``input_characters``; ``tts-1``/``tts-1-hd`` are priced per character). The answer is audio
  bytes without usage, except with ``stream_format: "sse"``, whose ``speech.audio.done`` event
  carries token usage (``gpt-4o-mini-tts``), read when present.
- ElevenLabs ``/text-to-speech/{voice}[/stream|/with-timestamps]``: the ``x-character-count``
  response header, else the characters of the request's ``text``.
- ``/audio/transcriptions`` and ``/audio/translations``: ``usage.seconds`` (``type: duration``),
  token usage (``type: tokens``, ``gpt-4o-transcribe``: audio tokens apart), else the
  ``duration`` of ``verbose_json``; for ``srt``/``vtt`` answers the end of the last cue
  (estimated); streamed transcripts: the usage of ``transcript.text.done``. Seconds are rounded
  up. The request is multipart (no JSON body): :func:`multipart_field` reads its model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any, Final

from lava_server.proxy.usage.base import (
    BufferedBodyParser,
    Counts,
    Headers,
    SSEUsageParser,
    error_message,
    finalize,
)
from lava_server.proxy.usage.estimate import count_tokens
from lava_server.proxy.usage.framing import DEFAULT_MAX_EVENT_BYTES, loads_object
from lava_server.proxy.usage.types import (
    JSON,
    Usage,
    UsageParser,
    as_count,
    as_dict,
    as_str,
    make_usage,
)

__all__ = [
    "ElevenLabsParser",
    "SpeechParser",
    "TranscriptStreamParser",
    "TranscriptionParser",
    "extract_elevenlabs_tts",
    "extract_openai_speech",
    "extract_transcription",
    "multipart_field",
]

_CHARACTER_HEADERS: Final = ("x-character-count", "character-cost")
_MAX_FIELD_BYTES: Final = 1024


def multipart_field(body: bytes, content_type: str | None, name: str) -> str | None:
    """The value of the text field ``name`` of a ``multipart/form-data`` body (the ``model`` of
    a transcription upload), or None. The parts are found with ``bytes.find`` (an upload of many
    megabytes costs a few milliseconds) and only their small header blocks are parsed, by the
    email package (which is slow on a whole upload: most of a second for 25 MB)."""
    header = Message()
    header["content-type"] = content_type or ""
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        return None
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    data = b"\r\n" + body  # the first delimiter is not preceded by a line break
    start = data.find(delimiter)
    while start != -1:
        head = start + len(delimiter)
        head_end = data.find(b"\r\n\r\n", head)
        if data.startswith(b"--", head) or head_end == -1:
            return None  # the closing delimiter, or a broken body
        end = data.find(delimiter, head_end)
        part = BytesHeaderParser().parsebytes(data[head:head_end].lstrip() + b"\r\n\r\n")
        if part.get_param("name", header="content-disposition") == name:
            value = data[head_end + 4 : end if end != -1 else head_end + 4]
            if len(value) > _MAX_FIELD_BYTES:
                return None
            return value.decode("utf-8", "replace").strip() or None
        start = end
    return None


def _header(headers: Headers | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        lower = name.lower()
        for key, item in headers.items():
            if key.lower() == lower:
                return item
    return value


def _is_character_priced(model: str | None) -> bool:
    """``tts-1`` and ``tts-1-hd`` are priced per character; newer speech models per token."""
    return model is None or model.lower().startswith("tts-1")


def extract_openai_speech(
    request_body: Mapping[str, Any] | None,
    response_body: Mapping[str, Any] | None = None,
    headers: Headers | None = None,
) -> Usage:
    """OpenAI text to speech: the characters of ``input``; for token-priced models (not
    ``tts-1``) also the estimated tokens of ``input`` (the audio answer carries no usage)."""
    body = request_body if isinstance(request_body, Mapping) else {}
    text = body.get("input")
    text = text if isinstance(text, str) else ""
    model = as_str(body.get("model"))
    if _is_character_priced(model):
        return make_usage(input_characters=len(text), model=model)
    return make_usage(
        input_characters=len(text),
        input_tokens=count_tokens(text),
        model=model,
        estimated=bool(text),
    )


def extract_elevenlabs_tts(
    request_body: Mapping[str, Any] | None,
    response_body: Mapping[str, Any] | None = None,
    headers: Headers | None = None,
) -> Usage:
    """ElevenLabs text to speech: ``x-character-count``, else the characters of ``text``."""
    body = request_body if isinstance(request_body, Mapping) else {}
    model = as_str(body.get("model_id"))
    for name in _CHARACTER_HEADERS:
        count = as_count(_header(headers, name))
        if count is not None:
            return make_usage(input_characters=count, model=model)
    text = body.get("text")
    return make_usage(input_characters=len(text) if isinstance(text, str) else 0, model=model)


def _transcription_usage(obj: Mapping[str, Any], counts: Counts) -> bool:
    """Read a transcription answer/event; True if it had usage or a duration."""
    usage = as_dict(obj.get("usage"))
    if usage is not None:
        kind = usage.get("type")
        seconds = as_count(usage.get("seconds"))
        if kind == "duration" or (seconds is not None and "input_tokens" not in usage):
            counts.input_seconds = seconds or 0
            counts.input_tokens = counts.output_tokens = 0
            return True
        input_tokens = as_count(usage.get("input_tokens"))
        if input_tokens is not None:
            details = as_dict(usage.get("input_token_details")) or {}
            counts.input_tokens = input_tokens
            counts.output_tokens = as_count(usage.get("output_tokens")) or 0
            counts.input_audio_tokens = as_count(details.get("audio_tokens")) or 0
            return True
    duration = as_count(obj.get("duration"))
    if duration is None:
        duration = as_count((as_dict(obj.get("x_groq")) or {}).get("duration"))
    if duration is not None:
        counts.input_seconds = duration
        counts.input_tokens = counts.output_tokens = 0
        return True
    return False


_CUE_TIME: Final = re.compile(rb"(\d{1,2}):(\d{2}):(\d{2})[,.](\d{1,3})")


def _last_cue_end(text: bytes) -> int | None:
    """The last timestamp of an SRT/VTT transcript, in whole seconds rounded up."""
    matches = _CUE_TIME.findall(text)
    if not matches:
        return None
    hours, minutes, seconds, fraction = matches[-1]
    total_ms = (int(hours) * 3600 + int(minutes) * 60 + int(seconds)) * 1000 + int(
        fraction.ljust(3, b"0")
    )
    return -(-total_ms // 1000)


def extract_transcription(
    request_body: Mapping[str, Any] | None,
    response_body: Mapping[str, Any] | None,
    headers: Headers | None = None,
    *,
    model: str | None = None,
) -> Usage:
    """A transcription/translation JSON answer (``json`` or ``verbose_json``)."""
    counts = Counts(model=model or _model_of(request_body))
    if isinstance(response_body, Mapping) and _transcription_usage(response_body, counts):
        return finalize(counts, family="openai-compatible", request_body=None)
    return make_usage(model=counts.model, estimated=True)


def _model_of(request_body: Mapping[str, Any] | None) -> str | None:
    return as_str(request_body.get("model")) if isinstance(request_body, Mapping) else None


class TranscriptionParser(BufferedBodyParser):
    """A transcription answer that is not SSE: JSON, or text/srt/vtt (bounded)."""

    def __init__(
        self,
        request_body: Mapping[str, Any] | None = None,
        *,
        model: str | None = None,
        max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        super().__init__(max_bytes)
        self.request_body = request_body
        self.model = model or _model_of(request_body)

    def _result(self) -> Usage:
        frame = self._body.frame()
        obj = None if frame.truncated else loads_object(frame.data)
        if obj is not None:
            self.done = True
            if "error" in obj and "text" not in obj:
                self.error = error_message(obj)
            return extract_transcription(self.request_body, obj, None, model=self.model)
        seconds = _last_cue_end(frame.tail if frame.truncated else frame.data)
        return make_usage(input_seconds=seconds or 0, model=self.model, estimated=True)


class SpeechParser(SSEUsageParser):
    """OpenAI speech with ``stream_format: "sse"``: the usage of ``speech.audio.done``, else
    the request's characters. (A binary audio answer needs no parser: use
    :func:`extract_openai_speech`.)"""

    def on_event(self, event: str, data: JSON) -> None:
        kind = data.get("type") or event
        if kind == "speech.audio.done":
            self.done = True
            usage = as_dict(data.get("usage"))
            if usage is not None:
                self.counts.input_tokens = as_count(usage.get("input_tokens"))
                self.counts.output_tokens = as_count(usage.get("output_tokens"))
        elif kind == "error" or "error" in data:
            self.error = error_message(data)

    def result(self, *, complete: bool) -> Usage:
        base = extract_openai_speech(self.request_body)
        counts = self.counts
        if counts.input_tokens is None and counts.output_tokens is None:
            return base
        counts.input_characters = base.input_characters
        counts.model = counts.model or base.model
        return finalize(
            counts, family="openai-compatible", request_body=self.request_body, text=None
        )


class ElevenLabsParser(UsageParser):
    """ElevenLabs text to speech: the body is audio (or JSON with timestamps) and is ignored;
    the count comes from the response headers or the request."""

    def __init__(
        self, request_body: Mapping[str, Any] | None = None, headers: Headers | None = None
    ) -> None:
        super().__init__()
        self.request_body = request_body
        self.headers = headers

    def feed(self, chunk: bytes) -> None:
        return None

    def finish(self, *, complete: bool = True) -> Usage:
        self.done = self.done or complete
        return extract_elevenlabs_tts(self.request_body, None, self.headers)


class TranscriptStreamParser(SSEUsageParser):
    """A streamed transcript (``stream: true``): the usage of ``transcript.text.done``."""

    def on_event(self, event: str, data: JSON) -> None:
        kind = data.get("type") or event
        if kind == "transcript.text.delta":
            delta = data.get("delta")
            if isinstance(delta, str):
                self.text.add(delta)
        elif kind == "transcript.text.done":
            self.done = True
            _transcription_usage(data, self.counts)
        elif kind == "error" or "error" in data:
            self.error = error_message(data)

    def result(self, *, complete: bool) -> Usage:
        if self.counts.input_tokens is None and not self.counts.input_seconds:
            # No usage: the seconds are unknown; output tokens from the text seen.
            return make_usage(
                output_tokens=self.text.tokens(count_tokens),
                model=self.counts.model or _model_of(self.request_body),
                estimated=True,
            )
        return finalize(self.counts, family="openai-compatible", request_body=None, text=self.text)
