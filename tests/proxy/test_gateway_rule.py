"""The gateway's model rule (`docs/forward-proxy.md#gateway`), pure: which provider a model goes
to, at which URL, in which shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from lava_server.model_prices.book import PriceBook
from lava_server.proxy.rewrite.target import gateway_providers, target_for_model

PROVIDERS = gateway_providers()


def test_the_order_tried():
    names = [p.name for p in PROVIDERS]
    assert names[:3] == ["openai", "anthropic", "mistral"]
    assert "google" not in names and "elevenlabs" not in names  # no chat shape we speak
    assert "googleOpenaiCompatible" in names and "groq" in names


@pytest.mark.parametrize(
    ("model", "provider", "url"),
    [
        ("gpt-4o-mini", "openai", "https://api.openai.com/v1/chat/completions"),
        ("gpt-4o-mini-2024-07-18", "openai", "https://api.openai.com/v1/chat/completions"),
        # Also priced at Google's Vertex: the order sends it to Anthropic.
        ("claude-haiku-4-5", "anthropic", "https://api.anthropic.com/v1/messages"),
        ("claude-3-5-haiku-20241022", "anthropic", "https://api.anthropic.com/v1/messages"),
        ("llama-3.3-70b-versatile", "groq", "https://api.groq.com/openai/v1/chat/completions"),
        ("deepseek-chat", "deepseek", "https://api.deepseek.com/v1/chat/completions"),
        (
            "gemini-2.0-flash",
            "googleOpenaiCompatible",
            "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
        ),
    ],
)
def test_the_provider_that_prices_the_model(model: str, provider: str, url: str):
    book = PriceBook()
    for client in ("openai", "anthropic"):
        target = target_for_model(client, model, book, PROVIDERS)
        assert target is not None
        assert (target.provider_name, target.url, target.client) == (provider, url, client)
        assert target.provider == ("anthropic" if provider == "anthropic" else "openai")
        assert target.translated == (client != target.provider)


def test_unpriced_and_any_provider_prices_pick_nothing(tmp_path: Path):
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '["*"."house-model"]\ninput_mtok = "1"\noutput_mtok = "2"\n'
        '[mistral."house-model-2"]\ninput_mtok = "1"\noutput_mtok = "2"\n'
        '[anthropic."gpt-4o-mini"]\ninput_mtok = "1"\noutput_mtok = "2"\n'
    )
    book = PriceBook.from_file(prices)
    assert target_for_model("openai", "no-such-model", book, PROVIDERS) is None
    assert target_for_model("openai", "house-model", book, PROVIDERS) is None
    own = target_for_model("openai", "house-model-2", book, PROVIDERS)
    assert own is not None and own.provider_name == "mistral"
    # Priced by both OpenAI (the library) and Anthropic (the operator): the order decides.
    both = target_for_model("anthropic", "gpt-4o-mini", book, PROVIDERS)
    assert both is not None and both.provider_name == "openai"
