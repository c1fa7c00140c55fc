"""The AI providers reachable through Lava's forward endpoint.

Data only (stdlib, no imports from the server): the SDK builds its ``providers`` convenience URLs
from it (``f"{base_url}forward?u={PROVIDER_BASE_URLS[name]}"``), and the self-hosted server uses the
same table as the allowlist of upstream origins for ``/v1/forward``.

Provenance of the base URLs (all 26 verified against Lava's own Node SDK, none taken from provider
docs):

- openai .. nebius (the first 20): ``src/client.ts`` of ``lavapayments/nodejs`` (the
  ``this.providers = {...}`` block, ``ApiVersion = "2025-04-28.v1"``, the seed era's API version).
- fireworks: the same file, one commit later (``fireworks`` added after ``nebius``).
- cerebras, targon, gmicloud, chutes, baseten: the compiled ``@lavapayments/nodejs`` build
  (``this.providers = {...}`` in its bundled ``Lava`` class). That later build also agrees
  character for character with every entry above; it adds ``moonshot``, which the seed does not
  list and which is therefore left out here.

Names, order and spelling are the seed's (``providers`` in ``@lavapayments/nodejs`` typings).
"""

from __future__ import annotations

from typing import Final, Literal

ProviderFamily = Literal["openai-compatible", "anthropic", "google", "elevenlabs"]
"""The wire format a provider's base URL speaks (request/usage shapes and auth header style)."""

PROVIDER_BASE_URLS: Final[dict[str, str]] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com/v1",
    "mistral": "https://api.mistral.ai/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "xai": "https://api.x.ai/v1",
    "google": "https://generativelanguage.googleapis.com/v1beta",
    "googleOpenaiCompatible": "https://generativelanguage.googleapis.com/v1beta/openai",
    "kluster": "https://api.kluster.ai/v1",
    "inference": "https://api.inference.net/v1",
    "groq": "https://api.groq.com/openai/v1",
    "novita": "https://api.novita.ai/v3/openai",
    "vercel": "https://api.v0.dev/v1",
    "together": "https://api.together.xyz/v1",
    "hyperbolic": "https://api.hyperbolic.xyz/v1",
    "elevenlabs": "https://api.elevenlabs.io/v1",
    "sambanova": "https://api.sambanova.ai/v1",
    "deepinfra": "https://api.deepinfra.com/v1/openai",
    "cohere": "https://api.cohere.ai/compatibility/v1",
    "parasail": "https://api.parasail.io/v1",
    "nebius": "https://api.studio.nebius.com/v1",
    "fireworks": "https://api.fireworks.ai/inference/v1",
    "cerebras": "https://api.cerebras.ai/v1",
    "targon": "https://api.targon.com/v1",
    "gmicloud": "https://api.gmi-serving.com/v1",
    "chutes": "https://llm.chutes.ai/v1",
    "baseten": "https://inference.baseten.co/v1",
}
"""Provider name -> API base URL (no trailing slash), exactly as Lava's SDK puts it after ``u=``.

Read-only by convention: never mutate it.
"""

PROVIDER_FAMILIES: Final[dict[str, ProviderFamily]] = {
    "openai": "openai-compatible",
    "anthropic": "anthropic",
    "mistral": "openai-compatible",
    "deepseek": "openai-compatible",
    "xai": "openai-compatible",
    "google": "google",
    # Gemini's OpenAI-compatible endpoint (``.../v1beta/openai/chat/completions``).
    "googleOpenaiCompatible": "openai-compatible",
    "kluster": "openai-compatible",
    "inference": "openai-compatible",
    "groq": "openai-compatible",
    "novita": "openai-compatible",
    # v0's Model API (``/v1/chat/completions``) is OpenAI-compatible.
    "vercel": "openai-compatible",
    "together": "openai-compatible",
    "hyperbolic": "openai-compatible",
    "elevenlabs": "elevenlabs",
    "sambanova": "openai-compatible",
    "deepinfra": "openai-compatible",
    # Lava points at Cohere's Compatibility API, which speaks the OpenAI format (not Cohere v2).
    "cohere": "openai-compatible",
    "parasail": "openai-compatible",
    "nebius": "openai-compatible",
    "fireworks": "openai-compatible",
    "cerebras": "openai-compatible",
    "targon": "openai-compatible",
    "gmicloud": "openai-compatible",
    "chutes": "openai-compatible",
    "baseten": "openai-compatible",
}
"""Provider name -> wire format family of the API under its base URL. Read-only by convention."""

__all__ = ["PROVIDER_BASE_URLS", "PROVIDER_FAMILIES", "ProviderFamily"]
