"""A fake AI provider: OpenAI, Anthropic and Gemini wire formats, offline and deterministic.

Tests, the demo and the benchmarks point the forward proxy at this server instead of the real
providers (``LAVA_UPSTREAM_OPENAI=http://127.0.0.1:9100`` and so on). It answers like the real
APIs, streaming and not, with usage blocks derived from the request, so that a bill can be checked
to the token.

Routes. Any path prefix is accepted before the suffixes below, so OpenAI-compatible providers whose
base URL carries a prefix (``/openai/v1`` for Groq, ``/inference/v1`` for Fireworks,
``/v1beta/openai`` for Gemini's compatible API) reach the same handlers:

=================================================  ============================================
``POST .../chat/completions``                      OpenAI chat completions
``POST .../responses``                             OpenAI Responses API
``POST .../embeddings``                            OpenAI embeddings (float or base64)
``POST .../audio/speech``                          OpenAI text to speech (``audio/mpeg`` bytes)
``GET  .../models``                                model list: Anthropic's shape when
                                                   ``anthropic-version`` is sent, Gemini's
                                                   under ``/v1beta/`` (not ``/openai/``),
                                                   else OpenAI's
``POST .../messages``                              Anthropic messages
``POST .../models/{model}:generateContent``        Gemini
``POST .../models/{model}:streamGenerateContent``  Gemini streaming: SSE with ``?alt=sse``
                                                   (``\\r\\n\\r\\n`` separators, as Google
                                                   sends), else a streamed JSON array
``POST .../text-to-speech/{voice}[/stream]``       ElevenLabs (``x-character-count`` header)
``GET /_fake/requests``                            the recorded requests, oldest first
``DELETE /_fake/requests``                         forget them
``GET /_fake/health``                              ``{"ok": true}``
=================================================  ============================================

Credentials. A non-empty key is required, sent the provider's way: ``Authorization: Bearer`` on
OpenAI-style routes; ``x-api-key`` or ``Authorization: Bearer`` for Anthropic; ``x-goog-api-key``
or ``?key=`` for Gemini; ``xi-api-key`` for ElevenLabs. Without one the answer is a 401 in the
provider's error format. The key and where it was found are recorded (``api_key``,
``key_source``), with the method, path, query, headers and JSON body of each request.

Usage. Tokens are counted with :func:`count_tokens` (one token per run of word characters, one per
other non-space character). Input tokens are that count over the request's text (messages,
system, instructions, contents, embedding inputs), plus 85 per image and one per id of a token-id
array; at least 1. The answer is a fixed cycle of plain words (:func:`answer_text`), one token and
one stream chunk per word, :data:`DEFAULT_OUTPUT_TOKENS` of them unless ``fake-tokens-<N>`` says
otherwise, capped by ``max_tokens`` / ``max_completion_tokens`` / ``max_output_tokens`` /
``generationConfig.maxOutputTokens`` (the finish reason is then ``length`` / ``max_tokens`` /
``MAX_TOKENS``, and a Responses answer is ``incomplete``). Reasoning models (OpenAI ``o1``, ``o3``,
``o4``, ``gpt-5`` families; Gemini models whose name contains ``thinking`` or ``2.5``) also spend
:data:`REASONING_TOKENS` hidden tokens within the same cap, reported as ``reasoning_tokens`` /
``thoughtsTokenCount`` and counted in the output tokens (Gemini: in ``totalTokenCount``, not in
``candidatesTokenCount``).

Test controls. The proxy forwards the body, the path and the upstream query string but not
arbitrary headers, so a control is a word found anywhere in the request body, path or query
string: in the model name (``"model": "fake-error-500"``) or in the prompt text, so that a priced
model name such as ``gpt-4o-mini`` can still be used. Controls combine.

============================  ==================================================================
``fake-error-<NNN>``          answer status NNN (4xx/5xx) with the provider's error body, e.g.
                              ``fake-error-500``, ``fake-error-429``, ``fake-error-529``
``fake-slow``                 wait 5 s before the first byte (``fake-slow-<N>ms``: N ms)
``fake-hang-midstream``       send a few chunks, then stall for 60 s before going on
                              (not streaming: half of the body, then the stall)
``fake-drop-midstream``       send a few chunks, then close the connection abruptly
                              (not streaming: half of the body under a full Content-Length)
``fake-error-midstream``      send a few chunks, then the provider's in-stream error (OpenAI
                              ``data: {"error": ...}``, Responses ``response.failed``, Anthropic
                              ``event: error``, Gemini an ``error`` chunk), and end
``fake-no-usage``             omit every usage block
``fake-usage-on-last-chunk``  chat streaming: usage on the last choice chunk (the one with the
                              finish reason) whether or not ``stream_options.include_usage`` is
                              set, as several OpenAI-compatible providers do; no usage chunk
``fake-tokens-<N>``           generate N output tokens (still capped by the max tokens field)
``fake-claim-<N>``            OpenAI chat: the usage block claims N output tokens whatever was
                              sent (a provider whose accounting runs wild)
``fake-cache-read``           half of the input tokens are cache reads (OpenAI and Responses
                              ``cached_tokens``, Anthropic ``cache_read_input_tokens``, Gemini
                              ``cachedContentTokenCount``)
``fake-cache-write``          Anthropic: half of the input tokens are cache writes
                              (``cache_creation_input_tokens``)
============================  ==================================================================

Timing. ``latency_ms`` delays the first byte of every provider answer (status line and headers
included); ``chunk_delay_ms`` is slept between stream chunks. Chunks are sent one by one.

Layout, one module per provider family, as in :mod:`lava_server.proxy.usage`: :mod:`.openai`
(chat completions, Responses, embeddings, speech, models), :mod:`.anthropic`, :mod:`.gemini`,
:mod:`.elevenlabs`; and what they share: :mod:`.app` (the app, :class:`FakeProvider` and its
dispatch), :mod:`.routes` (routes and credentials), :mod:`.controls`, :mod:`.plans` (what an
answer contains), :mod:`.tokens`, :mod:`.wire` (encoding, and the pacing of streams where the
midstream controls act) and :mod:`.recording` (the recorded requests).
"""

from lava_server.testing.fake_provider.app import FakeProvider, create_fake_provider_app, run
from lava_server.testing.fake_provider.controls import (
    HANG_SECONDS,
    MAX_OUTPUT_TOKENS,
    MIDSTREAM_AFTER_CHUNKS,
    SLOW_SECONDS,
    Controls,
    parse_controls,
)
from lava_server.testing.fake_provider.plans import DEFAULT_OUTPUT_TOKENS, REASONING_TOKENS
from lava_server.testing.fake_provider.tokens import IMAGE_TOKENS, answer_text, count_tokens
from lava_server.testing.fake_provider.wire import ConnectionDropped

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "HANG_SECONDS",
    "IMAGE_TOKENS",
    "MAX_OUTPUT_TOKENS",
    "MIDSTREAM_AFTER_CHUNKS",
    "REASONING_TOKENS",
    "SLOW_SECONDS",
    "ConnectionDropped",
    "Controls",
    "FakeProvider",
    "answer_text",
    "count_tokens",
    "create_fake_provider_app",
    "parse_controls",
    "run",
]
