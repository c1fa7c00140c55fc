"""``client.providers``: the forward-endpoint URL of every provider, ready for a provider SDK."""

from __future__ import annotations

import re

from .providers import PROVIDER_BASE_URLS

__all__ = ["Providers"]


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Providers:
    """Forward URLs (``{base_url}forward?u=<provider base URL>``), one attribute per provider.

    Give one to a provider SDK as its base URL, with a forward token as its API key::

        OpenAI(base_url=lava.providers.openai, api_key=lava.generate_forward_token(...))
    """

    openai: str
    anthropic: str
    mistral: str
    deepseek: str
    xai: str
    google: str
    google_openai_compatible: str
    kluster: str
    inference: str
    groq: str
    novita: str
    vercel: str
    together: str
    hyperbolic: str
    elevenlabs: str
    sambanova: str
    deepinfra: str
    cohere: str
    parasail: str
    nebius: str
    fireworks: str
    cerebras: str
    targon: str
    gmicloud: str
    chutes: str
    baseten: str

    def __init__(self, base_url: str) -> None:
        self._urls = {
            name: f"{base_url}forward?u={provider_url}"
            for name, provider_url in PROVIDER_BASE_URLS.items()
        }
        for name, url in self._urls.items():
            setattr(self, _snake_case(name), url)

    def to_dict(self) -> dict[str, str]:
        """Every URL keyed by the Node SDK's provider name (``googleOpenaiCompatible``...)."""
        return dict(self._urls)

    def __repr__(self) -> str:
        return f"Providers({self._urls!r})"
