"""Provider prices (docs/pricing.md, step 4): genai-prices' bundled snapshot, the override file,
unknown models at 0, and parity of our fast cost computation with genai-prices' own calculator."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from genai_prices import Usage as GenaiUsage
from genai_prices import calc_price

from lava_server.errors import InvalidRequest
from lava_server.model_prices.book import (
    GENAI_PROVIDER_IDS,
    ModelLimits,
    PriceBook,
    PriceOverrideError,
    Rates,
    database_overrides,
    provider_cost,
)
from lava_server.proxy.usage import Usage, make_usage, max_output_tokens

D = Decimal


@pytest.fixture
def book() -> PriceBook:
    return PriceBook()


def genai_cost(
    provider_id: str, model: str, usage: Usage, when: datetime | None = None
) -> tuple[Decimal, Decimal]:
    """The same usage priced by genai-prices' own calculator."""
    fields: dict[str, int] = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.cache_read_tokens:
        fields["cache_read_tokens"] = usage.cache_read_tokens
    if usage.cache_write_tokens:
        fields["cache_write_tokens"] = usage.cache_write_tokens
    if usage.cache_write_1h_tokens:
        fields["cache_write_1h_tokens"] = usage.cache_write_1h_tokens
    if usage.input_characters:
        fields["input_characters"] = usage.input_characters
    if usage.input_seconds:
        fields["input_audio_seconds"] = usage.input_seconds
        fields["audio_seconds"] = usage.input_seconds
    result = calc_price(
        GenaiUsage(**fields), model, provider_id=provider_id, genai_request_timestamp=when
    )
    return result.input_price, result.output_price


# ----------------------------------------------------------------------- well-known models


@pytest.mark.parametrize(
    ("provider", "model", "rates"),
    [
        ("openai", "gpt-4o-mini", ("0.15", "0.6", "0.075", None)),
        ("openai", "gpt-4o-mini-2024-07-18", ("0.15", "0.6", "0.075", None)),
        ("anthropic", "claude-3-5-sonnet-20241022", ("3", "15", "0.3", "3.75")),
        ("anthropic", "claude-sonnet-4-20250514", ("3", "15", "0.3", "3.75")),
        ("google", "gemini-2.5-flash", ("0.3", "2.5", "0.03", None)),
        ("google", "models/gemini-2.5-flash", ("0.3", "2.5", "0.03", None)),
        ("googleOpenaiCompatible", "gemini-2.5-flash", ("0.3", "2.5", "0.03", None)),
    ],
)
def test_well_known_models_match_genai_prices(
    book: PriceBook, provider: str, model: str, rates: tuple[str, str, str, str | None]
) -> None:
    pricing = book.lookup(provider, model)
    assert pricing.source == "genai-prices" and pricing.known
    base = pricing.rates
    assert base.input_mtok == D(rates[0])
    assert base.output_mtok == D(rates[1])
    assert base.cache_read_mtok == D(rates[2])
    assert base.cache_write_mtok == (D(rates[3]) if rates[3] else None)


USAGES = [
    make_usage(input_tokens=1000, output_tokens=200),
    make_usage(input_tokens=1117, output_tokens=46, cache_read_tokens=1024),
    make_usage(
        input_tokens=4955,
        output_tokens=393,
        cache_read_tokens=3072,
        cache_write_tokens=1862,
        cache_write_1h_tokens=862,
    ),
    make_usage(input_tokens=1, output_tokens=0),
    make_usage(input_tokens=250_000, output_tokens=8_000, cache_read_tokens=100_000),
]


@pytest.mark.parametrize(
    ("provider", "genai_provider", "model"),
    [
        ("openai", "openai", "gpt-4o-mini"),
        ("openai", "openai", "gpt-4o"),
        ("openai", "openai", "o4-mini"),
        ("openai", "openai", "gpt-5"),
        ("anthropic", "anthropic", "claude-3-5-sonnet-20241022"),
        ("anthropic", "anthropic", "claude-sonnet-4-20250514"),
        ("anthropic", "anthropic", "claude-sonnet-4-5"),  # long-context tiers above 200k
        ("google", "google", "gemini-2.5-flash"),
        ("google", "google", "gemini-2.5-pro"),  # tiers above 200k
        ("xai", "x-ai", "grok-3-mini"),
        ("groq", "groq", "llama-3.3-70b-versatile"),
        ("mistral", "mistral", "mistral-large-latest"),
    ],
)
def test_costs_equal_genai_prices_calculator(
    book: PriceBook, provider: str, genai_provider: str, model: str
) -> None:
    for usage in USAGES:
        ours = book.provider_cost(provider, model, usage)
        assert ours == genai_cost(genai_provider, model, usage), (model, usage)
        assert all(isinstance(part, Decimal) for part in ours)


def test_worked_values() -> None:
    # gpt-4o-mini: 900 uncached x 0.15 + 100 cached x 0.075, 200 out x 0.6 ($ per million)
    usage = make_usage(input_tokens=1000, output_tokens=200, cache_read_tokens=100)
    assert provider_cost("openai", "gpt-4o-mini", usage) == (D("0.0001425"), D("0.00012"))
    # claude sonnet 4: 21 uncached x 3 + 3072 reads x 0.3 + 1000 5m writes x 3.75
    # + 862 1h writes x 6; 393 out x 15
    usage = make_usage(
        input_tokens=4955,
        output_tokens=393,
        cache_read_tokens=3072,
        cache_write_tokens=1862,
        cache_write_1h_tokens=862,
    )
    input_cost, output_cost = provider_cost("anthropic", "claude-sonnet-4-20250514", usage)
    assert input_cost == (21 * D(3) + 3072 * D("0.3") + 1000 * D("3.75") + 862 * D(6)) / 10**6
    assert output_cost == D("0.005895")
    # gemini 2.5 flash: thinking tokens are output tokens
    usage = make_usage(input_tokens=9, output_tokens=28, reasoning_tokens=21)
    assert provider_cost("google", "gemini-2.5-flash", usage) == (D("0.0000027"), D("0.00007"))


def test_long_context_tier(book: PriceBook) -> None:
    pricing = book.lookup("google", "gemini-2.5-pro")
    assert pricing.tiers and pricing.tiers[0][0] == 200_000
    assert pricing.rates_for(200_000).input_mtok == D("1.25")
    assert pricing.rates_for(200_001).input_mtok == D("2.5")
    assert pricing.rates_for(200_001).output_mtok == D("15")


def test_time_dependent_prices(book: PriceBook) -> None:
    """deepseek-chat's prices depend on the time of day in the data: resolved per call."""
    usage = make_usage(input_tokens=1000, output_tokens=1000, cache_read_tokens=500)
    for hour in (3, 20):
        when = datetime(2025, 6, 1, hour, 0, tzinfo=timezone.utc)
        assert book.provider_cost("deepseek", "deepseek-chat", usage, at=when) == genai_cost(
            "deepseek", "deepseek-chat", usage, when
        )


def test_audio_prices(book: PriceBook) -> None:
    speech = make_usage(input_characters=1_000)
    assert book.provider_cost("openai", "tts-1", speech) == (D("0.015"), D(0))
    assert book.provider_cost("openai", "tts-1", speech) == genai_cost("openai", "tts-1", speech)
    transcription = make_usage(input_seconds=90)
    assert book.provider_cost("openai", "whisper-1", transcription) == (D("0.009"), D(0))
    assert book.provider_cost("openai", "whisper-1", transcription) == genai_cost(
        "openai", "whisper-1", transcription
    )
    assert book.lookup("openai", "whisper-1").rates.input_audio_hours == D("0.36")  # $0.0001/s
    tokens = make_usage(input_tokens=100, input_audio_tokens=80, output_tokens=20)
    input_cost, output_cost = book.provider_cost("openai", "gpt-4o-transcribe", tokens)
    assert input_cost == (20 * D("2.5") + 80 * D(6)) / 10**6
    assert output_cost == 20 * D(10) / 10**6


# ------------------------------------------------------------------------------ unknowns


def test_an_unknown_model_costs_nothing_by_itself(book: PriceBook) -> None:
    usage = make_usage(input_tokens=1000, output_tokens=1000)
    assert book.provider_cost("openai", "gpt-unknown-9000", usage) == (D(0), D(0))
    assert book.lookup("openai", "gpt-unknown-9000").source == "unknown"
    assert book.limits("openai", "gpt-unknown-9000") is None
    assert book.provider_cost("openai", None, usage) == (D(0), D(0))


def test_unknown_model_refused(book: PriceBook) -> None:
    with pytest.raises(InvalidRequest) as refused:
        book.billed_price("openai", "gpt-unknown-9000", "refuse")
    assert refused.value.param == "model"
    message = refused.value.message
    assert "'gpt-unknown-9000'" in message and "'openai'" in message
    assert "lava prices add openai gpt-unknown-9000 --input-mtok N --output-mtok N" in message
    assert "LAVA_MODEL_PRICES_FILE" in message
    with pytest.raises(InvalidRequest, match="names no model"):
        book.billed_price("openai", None, "refuse")
    # A known model is never refused.
    assert book.billed_price("openai", "gpt-4o-mini", "refuse").source == "genai-prices"


def _clear_caches(book: PriceBook) -> None:
    """Forget every price looked up so far (the warning must not depend on the cache)."""
    with book._lock:
        book._cache.clear()
        book._converted.clear()
        book._dearest.clear()


def test_unknown_model_free_is_warned_once(
    book: PriceBook, caplog: pytest.LogCaptureFixture
) -> None:
    usage = make_usage(input_tokens=1000, output_tokens=1000)
    with caplog.at_level(logging.WARNING, logger="lava_server.model_prices.book"):
        for _ in range(3):
            pricing = book.billed_price("openai", "gpt-unknown-9000", "free")
            assert pricing.cost(usage) == (D(0), D(0))
        _clear_caches(book)
        book.billed_price("openai", "gpt-unknown-9000", "free")
    warnings = [r for r in caplog.records if "gpt-unknown-9000" in r.getMessage()]
    assert len(warnings) == 1
    assert "provider cost 0" in warnings[0].getMessage()


def test_unknown_model_estimated_like_the_dearest_of_its_provider(book: PriceBook) -> None:
    """The dearest by output price per million tokens, then input: o1-pro at OpenAI ($150 in,
    $600 out), computed here from the library's own data rather than written down."""
    from genai_prices.data_snapshot import find_provider_by_id, get_snapshot

    models = find_provider_by_id(get_snapshot().providers, "anthropic").models
    now = datetime.now(tz=timezone.utc)

    def base(info: object) -> tuple[Decimal, Decimal]:
        price = info.get_prices(now) if isinstance(info.prices, list) else info.prices  # type: ignore[attr-defined]
        output = price.output_mtok.base if hasattr(price.output_mtok, "base") else price.output_mtok
        input_ = price.input_mtok.base if hasattr(price.input_mtok, "base") else price.input_mtok
        return (output or D(0), input_ or D(0))

    dearest = min(models, key=lambda info: (*(-price for price in base(info)), info.id.lower()))
    pricing = book.billed_price("anthropic", "claude-from-the-future", "estimate")
    assert pricing.source == "estimated" and pricing.known
    assert pricing.model == "claude-from-the-future"
    assert pricing.matched == dearest.id
    assert (pricing.rates.output_mtok, pricing.rates.input_mtok) == base(dearest)
    usage = make_usage(input_tokens=1000, output_tokens=1000)
    assert pricing.cost(usage) == book.provider_cost("anthropic", dearest.id, usage)

    openai = book.billed_price("openai", "gpt-from-the-future", "estimate")
    assert (openai.matched, openai.rates.input_mtok, openai.rates.output_mtok) == (
        "o1-pro",
        D(150),
        D(600),
    )
    # An operator price dearer than the library's counts too, and a cheaper one does not.
    book.set_database_prices(
        database_overrides(
            [
                ("openai", "house-dear", {"input_mtok": "1", "output_mtok": "700"}),
                ("openai", "house-cheap", {"input_mtok": "900", "output_mtok": "1"}),
            ]
        )
    )
    assert book.billed_price("openai", "gpt-x", "estimate").matched == "house-dear"
    # Known models keep their own prices.
    assert book.billed_price("openai", "gpt-4o-mini", "estimate").source == "genai-prices"


@pytest.mark.parametrize("provider", ["deepinfra", "kluster", "chutes"])
def test_providers_without_library_prices(book: PriceBook, provider: str) -> None:
    """genai-prices has no prices of these providers (nor of their models under another id):
    their models need the operator's, and the unknown-model rule applies."""
    assert provider not in GENAI_PROVIDER_IDS
    assert book.lookup(provider, "meta-llama/Llama-3.3-70B-Instruct").source == "unknown"
    assert book.entries(provider) == []
    with pytest.raises(InvalidRequest, match="nor for any other model"):
        book.billed_price(provider, "meta-llama/Llama-3.3-70B-Instruct", "estimate")


@pytest.mark.parametrize(
    ("model", "prices"),
    [
        ("Meta-Llama-3.3-70B-Instruct", ("0.6", "1.2")),
        ("Meta-Llama-3.1-8B-Instruct", ("0.1", "0.2")),
        ("DeepSeek-R1-0528", ("5", "7")),
        ("DeepSeek-V3-0324", ("3", "4.5")),
        ("Qwen3-32B", ("0.4", "0.8")),
        ("gpt-oss-120b", ("0.22", "0.59")),
        ("Llama-3.3-Swallow-70B-Instruct-v0.4", ("0.6", "1.2")),
    ],
)
def test_sambanova_is_priced_from_its_hugging_face_listing(
    book: PriceBook, model: str, prices: tuple[str, str]
) -> None:
    """SambaNova's own model names, at the prices of the router listing of its deployments."""
    pricing = book.lookup("sambanova", model)
    assert pricing.source == "genai-prices"
    assert (pricing.rates.input_mtok, pricing.rates.output_mtok) == (D(prices[0]), D(prices[1]))
    assert book.lookup("sambanova", model.upper()).known
    listed = {entry.model for entry in book.entries("sambanova")}
    assert model in listed


def test_every_mapped_provider_exists_in_genai_prices() -> None:
    from genai_prices.data_snapshot import find_provider_by_id, get_snapshot

    providers = get_snapshot().providers
    for ours, theirs in GENAI_PROVIDER_IDS.items():
        found = find_provider_by_id(providers, theirs)
        assert found is not None and found.id == theirs, ours


# ------------------------------------------------------------------------- override file


OVERRIDES_TOML = """
# Operator prices, $ per million tokens
[openai."gpt-4o-mini"]
input_mtok = "0.10"
output_mtok = "0.40"

[openai."ft:gpt-4o-mini:acme:*"]
input_mtok = "0.30"
output_mtok = "1.20"
cache_read_mtok = "0.15"
max_output_tokens = 4096

[deepinfra."meta-llama/Llama-3.3-70B-Instruct"]
input_mtok = "0.23"
output_mtok = "0.40"
context_window = 131072

["*"."local-llama"]
input_mtok = 0
output_mtok = 0.5
tiers = [{start = 1000, output_mtok = "1.5"}, {start = 5000, input_mtok = "2"}]
"""


def test_override_file_toml(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(OVERRIDES_TOML)
    book = PriceBook.from_file(path)
    usage = make_usage(input_tokens=1000, output_tokens=1000, cache_read_tokens=500)

    replaced = book.lookup("openai", "gpt-4o-mini")
    assert replaced.source == "override" and replaced.rates.cache_read_mtok is None
    assert book.provider_cost("openai", "gpt-4o-mini", usage) == (D("0.0001"), D("0.0004"))
    assert book.lookup("openai", "gpt-4o").source == "genai-prices"  # others untouched

    fine_tune = book.lookup("openai", "FT:gpt-4o-mini:acme:abc123")
    assert fine_tune.matched == "ft:gpt-4o-mini:acme:*"
    assert book.provider_cost("openai", "ft:gpt-4o-mini:acme:abc123", usage) == (
        (500 * D("0.30") + 500 * D("0.15")) / 10**6,
        D("0.0012"),
    )
    assert (
        max_output_tokens("openai-compatible", {}, "ft:gpt-4o-mini:acme:x", price_book=book) == 4096
    )

    assert book.lookup("deepinfra", "meta-llama/Llama-3.3-70B-Instruct").known
    assert book.limits("deepinfra", "meta-llama/Llama-3.3-70B-Instruct") == ModelLimits(
        context_window=131072
    )
    assert (
        max_output_tokens(
            "openai-compatible",
            {},
            "meta-llama/Llama-3.3-70B-Instruct",
            provider="deepinfra",
            price_book=book,
            input_tokens=1072,
        )
        == 130_000
    )

    local = book.lookup("groq", "local-llama")
    assert local.source == "override"
    assert local.rates_for(1000) == Rates(input_mtok=D(0), output_mtok=D("0.5"))
    assert local.rates_for(1001) == Rates(input_mtok=D(0), output_mtok=D("1.5"))
    assert local.rates_for(5001) == Rates(input_mtok=D(2), output_mtok=D("1.5"))
    assert isinstance(local.rates.output_mtok, Decimal)


def test_database_prices_win_over_the_file_and_can_be_replaced(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(OVERRIDES_TOML)
    book = PriceBook.from_file(path)
    usage = make_usage(input_tokens=10**6, output_tokens=10**6)
    assert book.provider_cost("openai", "gpt-4o-mini", usage) == (D("0.10"), D("0.40"))  # file
    book.set_database_prices(
        database_overrides(
            [
                ("openai", "gpt-4o-mini", {"input_mtok": "0.12", "output_mtok": "0.48"}),
                ("deepinfra", "qwen/*", {"input_mtok": "0.05", "output_mtok": "0.1"}),
            ]
        )
    )
    assert book.provider_cost("openai", "GPT-4o-mini", usage) == (D("0.12"), D("0.48"))
    assert book.lookup("deepinfra", "Qwen/Qwen3-32B").matched == "qwen/*"
    assert book.lookup("openai", "ft:gpt-4o-mini:acme:x").source == "override"  # file, kept
    listed = [(e.provider, e.model, e.source) for e in book.entries("openai", "gpt-4o-mini")]
    assert ("openai", "gpt-4o-mini", "database") in listed
    assert ("openai", "gpt-4o-mini", "file") in listed
    assert ("openai", "gpt-4o-mini", "genai-prices") in listed
    assert all("gpt-4o-mini" in model for _, model, _ in listed)
    book.set_database_prices({})  # removed: the file's price again
    assert book.provider_cost("openai", "gpt-4o-mini", usage) == (D("0.10"), D("0.40"))
    assert not book.lookup("deepinfra", "Qwen/Qwen3-32B").known


def test_override_file_json(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "anthropic": {
                    "claude-sonnet-4-20250514": {
                        "input_mtok": "2.5",
                        "output_mtok": "12.5",
                        "cache_read_mtok": "0.25",
                        "cache_write_mtok": "3",
                        "cache_write_1h_mtok": "5",
                    }
                },
                "*": {"my-model": {"input_mtok": 1.1, "output_mtok": 2}},
            }
        )
    )
    book = PriceBook.from_file(path)
    usage = make_usage(
        input_tokens=100,
        output_tokens=10,
        cache_read_tokens=20,
        cache_write_tokens=30,
        cache_write_1h_tokens=10,
    )
    assert book.provider_cost("anthropic", "claude-sonnet-4-20250514", usage) == (
        (50 * D("2.5") + 20 * D("0.25") + 20 * D(3) + 10 * D(5)) / 10**6,
        D("0.000125"),
    )
    assert book.lookup("mistral", "my-model").rates.input_mtok == D("1.1")  # exact, not float


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[openai."m"]\ninput_mtok = "-1"\n', "from 0 to 10000"),
        ('[openai."m"]\ninput_mtok = "10000.01"\n', "from 0 to 10000"),
        ('[openai."m"]\ninput_mtok = "0.00000000001"\n', "at most 10 decimal places"),
        ('[openai."m"]\ninput_mtoks = "1"\n', "unknown key"),
        ('[openai."m"]\ninput_mtok = "abc"\n', "not a decimal"),
        ('[openai."m"]\ninput_mtok = true\n', "decimal number"),
        ('[openai."m"]\ntiers = [{input_mtok = "1"}]\n', "'start'"),
        ('[openai."m"]\ntiers = [{start = 5}, {start = 5}]\n', "ascending"),
        ('[openai."m"]\nmax_output_tokens = 1.5\n', "whole number"),
        ("openai = 3\n", "table of models"),
        ("not toml [", "invalid TOML"),
    ],
)
def test_override_file_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(content)
    with pytest.raises(PriceOverrideError, match=message):
        PriceBook.from_file(path)


def test_override_file_missing_or_bad_json(tmp_path: Path) -> None:
    with pytest.raises(PriceOverrideError, match="cannot read"):
        PriceBook.from_file(tmp_path / "nope.toml")
    path = tmp_path / "prices.json"
    path.write_text("{bad json")
    with pytest.raises(PriceOverrideError, match="invalid JSON"):
        PriceBook.from_file(path)
    assert PriceBook.from_file(None).lookup("openai", "gpt-4o-mini").source == "genai-prices"


# ----------------------------------------------------------------------------- hot path


def test_lookups_are_cached_and_bounded() -> None:
    book = PriceBook(max_cache=8)
    first = book.lookup("openai", "gpt-4o-mini")
    assert book.lookup("openai", "gpt-4o-mini") is first
    for i in range(50):
        book.lookup("openai", f"unknown-{i}")
    assert len(book._cache) <= 8


def test_cost_is_fast_and_never_fetches(monkeypatch: pytest.MonkeyPatch) -> None:
    import genai_prices.update_prices as update_prices

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("price updates must never be fetched at run time")

    monkeypatch.setattr(update_prices.UpdatePrices, "start", refuse, raising=False)
    monkeypatch.setattr(update_prices.UpdatePrices, "__enter__", refuse, raising=False)
    book = PriceBook()
    usage = make_usage(input_tokens=1234, output_tokens=567, cache_read_tokens=1000)
    book.provider_cost("anthropic", "claude-sonnet-4-20250514", usage)
    started = time.perf_counter()
    for _ in range(10_000):
        book.provider_cost("anthropic", "claude-sonnet-4-20250514", usage)
    # About 5 microseconds each here; genai-prices' calc_price takes about 100.
    assert time.perf_counter() - started < 1.0
