"""Provider prices of models: what a forwarded call cost at its provider (``docs/pricing.md``).

Three sources, the first that knows a model wins:

1. prices added with ``lava prices add`` (the ``model_prices`` table, shared by every server
   process; each process reloads them every ``LAVA_MODEL_PRICES_REFRESH_SECONDS``);
2. the operator's price file (``LAVA_MODEL_PRICES_FILE``, read at start);
3. ``genai-prices`` (a maintained price library), using only the snapshot bundled in the
   installed package: nothing here ever starts its updater or touches the network.

A model none of them knows is handled by the unknown-model rule (``LAVA_UNKNOWN_MODEL``, see
:meth:`PriceBook.billed_price`): ``refuse`` (400 before anything is sent or stored),
``estimate`` (priced like the dearest known model of its provider, and marked) or ``free``
(provider cost 0, logged once).

Typical use (the server builds one book per process from its settings)::

    book = PriceBook.from_file(settings.model_prices_file)   # may be ""
    pricing = book.billed_price("openai", "gpt-4o-mini-2024-07-18", settings.unknown_model)
    input_cost, output_cost = pricing.cost(usage)

Costs are unrounded ``Decimal`` dollars; the pricing engine rounds each to 10 places. The input cost
includes cache reads and writes at their own prices; usage follows the conventions of
:mod:`lava_server.proxy.usage.types` (``input_tokens`` includes the cached parts).

Price file (TOML or JSON, chosen by the file extension; ``.json`` is JSON, anything else
TOML). Top-level keys are our provider names (``openai``, ``groq``, ``googleOpenaiCompatible``...)
or ``"*"`` for any provider; under each, model names (case-insensitive; a trailing ``*`` makes a
prefix pattern) map to prices. Numbers are read as ``Decimal`` (write them as strings in JSON to
be exact)::

    [openai."ft:gpt-4o-mini:acme:*"]
    input_mtok = "0.30"            # $ per million input tokens
    output_mtok = "1.20"           # $ per million output tokens
    cache_read_mtok = "0.15"       # optional; cache reads cost input_mtok without it

    ["*"."llama-3.1-8b-local"]
    input_mtok = "0"
    output_mtok = "0"
    max_output_tokens = 8192       # optional: the output ceiling used for holds

Price keys: ``input_mtok``, ``output_mtok``, ``cache_read_mtok``, ``cache_write_mtok`` (5-minute
writes, and all writes without ``cache_write_1h_mtok``), ``cache_write_1h_mtok``,
``input_audio_mtok``, ``output_audio_mtok`` ($ per million tokens), ``input_mchars``,
``output_mchars`` ($ per million characters), ``input_audio_hours``, ``output_audio_hours``
($ per hour of audio, metered in seconds); each from 0 to 10,000 with at most 10 decimal places;
plus ``context_window`` and ``max_output_tokens`` (tokens), and ``tiers``: a list of
``{start = N, <price keys>}`` applied when a request's input tokens exceed ``start``
(long-context prices; keys not given keep the base price). An entry replaces the library's entry
for that model as a whole, and a ``lava prices add`` entry replaces the file's for the same
provider and model name. Unknown keys are an error.

Judgement calls: genai-prices' per-request, search, image-token and page prices are not used
(the proxy meters none of those units); time-dependent prices (off-peak discounts, scheduled
changes) are resolved at the time of each call; batch/priority variants are not applied.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import shlex
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from lava_server.errors import InvalidRequest

__all__ = [
    "GENAI_PROVIDER_IDS",
    "PRICE_ESTIMATED_KEY",
    "ModelLimits",
    "ModelPricing",
    "PriceBook",
    "PriceEntry",
    "PriceOverrideError",
    "Rates",
    "UnknownModelRule",
    "UsageCounts",
    "check_price",
    "database_overrides",
    "default_price_book",
    "load_overrides",
    "provider_cost",
]

logger = logging.getLogger(__name__)

ZERO: Final = Decimal(0)
_MILLION: Final = Decimal(1_000_000)
_HOUR: Final = Decimal(3600)
MAX_PRICE: Final = Decimal(10_000)
"""The highest price accepted ($ per million units or per hour): the dearest model of the price
library costs $600 per million output tokens, so anything above this is a slip of the hand."""
PRICE_PLACES: Final = 10

UnknownModelRule = Literal["refuse", "estimate", "free"]
PRICE_ESTIMATED_KEY: Final = "lava_price_estimated"
"""Metadata key set to "true" on a request whose model had no price and was priced like the
dearest known model of its provider (``LAVA_UNKNOWN_MODEL=estimate``)."""

GENAI_PROVIDER_IDS: Final[Mapping[str, str]] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "google",
    "googleOpenaiCompatible": "google",
    "mistral": "mistral",
    "deepseek": "deepseek",
    "xai": "x-ai",
    "groq": "groq",
    "together": "together",
    "fireworks": "fireworks",
    "cerebras": "cerebras",
    "novita": "novita",
    "cohere": "cohere",
    "baseten": "baseten",
    "elevenlabs": "elevenlabs",
    # SambaNova's own deployments as Hugging Face's router lists them, at SambaNova's prices.
    "sambanova": "huggingface_sambanova",
}
"""Our provider names -> genai-prices provider ids. The registry's other providers have no prices
there (deepinfra, kluster, chutes, inference, vercel, parasail, targon, gmicloud), or only in its
Hugging Face router listings (hyperbolic, nebius): their models need prices from the operator
(another provider's price for the same open model would be a guess, not a bill)."""


def _own_name(provider: str, genai_id: str) -> str:
    """The name ``provider``'s API takes for a model genai-prices lists under another name.
    SambaNova takes the Hugging Face name without its organisation, and Meta's Llama models with
    ``Meta-`` in front (``meta-llama/Llama-3.3-70B-Instruct``: ``Meta-Llama-3.3-70B-Instruct``)."""
    if provider == "sambanova":
        organisation, _, name = genai_id.rpartition("/")
        return f"Meta-{name}" if organisation == "meta-llama" else name
    return genai_id


class UsageCounts(Protocol):
    """What :func:`provider_cost` reads of a usage (an ``Usage`` fits)."""

    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cache_read_tokens(self) -> int: ...
    @property
    def cache_write_tokens(self) -> int: ...
    @property
    def cache_write_1h_tokens(self) -> int: ...
    @property
    def input_audio_tokens(self) -> int: ...
    @property
    def output_audio_tokens(self) -> int: ...
    @property
    def input_characters(self) -> int: ...
    @property
    def output_characters(self) -> int: ...
    @property
    def input_seconds(self) -> int: ...
    @property
    def output_seconds(self) -> int: ...


# ----------------------------------------------------------------------------------- the rates


@dataclass(frozen=True, slots=True)
class Rates:
    """Prices of one model (one tier), in genai-prices' units: $ per million tokens or characters,
    $ per hour of audio. ``None``: no price of its own (the more general price applies: cache
    reads/writes and audio tokens at ``input_mtok``, 1-hour writes at ``cache_write_mtok``,
    output audio tokens at ``output_mtok``)."""

    input_mtok: Decimal = ZERO
    output_mtok: Decimal = ZERO
    cache_read_mtok: Decimal | None = None
    cache_write_mtok: Decimal | None = None
    cache_write_1h_mtok: Decimal | None = None
    input_audio_mtok: Decimal | None = None
    output_audio_mtok: Decimal | None = None
    input_mchars: Decimal = ZERO
    output_mchars: Decimal = ZERO
    input_audio_hours: Decimal = ZERO
    output_audio_hours: Decimal = ZERO

    @property
    def _cache_read(self) -> Decimal:
        return self.input_mtok if self.cache_read_mtok is None else self.cache_read_mtok

    @property
    def _cache_write(self) -> Decimal:
        return self.input_mtok if self.cache_write_mtok is None else self.cache_write_mtok

    @property
    def _cache_write_1h(self) -> Decimal:
        return self._cache_write if self.cache_write_1h_mtok is None else self.cache_write_1h_mtok

    def cost(self, usage: UsageCounts) -> tuple[Decimal, Decimal]:
        """(input cost, output cost) of ``usage`` at these rates, unrounded."""
        cache_read = usage.cache_read_tokens
        cache_write = usage.cache_write_tokens
        write_1h = min(usage.cache_write_1h_tokens, cache_write)
        audio_in = usage.input_audio_tokens
        text_in = max(0, usage.input_tokens - cache_read - cache_write - audio_in)
        tokens_in = self.input_mtok * text_in
        if cache_read:
            tokens_in += self._cache_read * cache_read
        if cache_write - write_1h:
            tokens_in += self._cache_write * (cache_write - write_1h)
        if write_1h:
            tokens_in += self._cache_write_1h * write_1h
        if audio_in:
            audio_price = (
                self.input_mtok if self.input_audio_mtok is None else self.input_audio_mtok
            )
            tokens_in += audio_price * audio_in
        input_cost = tokens_in / _MILLION
        if usage.input_characters:
            input_cost += self.input_mchars * usage.input_characters / _MILLION
        if usage.input_seconds:
            input_cost += self.input_audio_hours * usage.input_seconds / _HOUR

        audio_out = min(usage.output_audio_tokens, usage.output_tokens)
        tokens_out = self.output_mtok * (usage.output_tokens - audio_out)
        if audio_out:
            audio_price = (
                self.output_mtok if self.output_audio_mtok is None else self.output_audio_mtok
            )
            tokens_out += audio_price * audio_out
        output_cost = tokens_out / _MILLION
        if usage.output_characters:
            output_cost += self.output_mchars * usage.output_characters / _MILLION
        if usage.output_seconds:
            output_cost += self.output_audio_hours * usage.output_seconds / _HOUR
        return input_cost, output_cost


_RATE_KEYS: Final = tuple(f.name for f in fields(Rates))
_OPTIONAL_RATE_KEYS: Final = frozenset(
    {
        "cache_read_mtok",
        "cache_write_mtok",
        "cache_write_1h_mtok",
        "input_audio_mtok",
        "output_audio_mtok",
    }
)
_NO_RATES: Final = Rates()


@dataclass(frozen=True, slots=True)
class ModelLimits:
    context_window: int | None = None
    max_output_tokens: int | None = None


PriceSource = Literal["genai-prices", "override", "estimated", "unknown"]


@dataclass(frozen=True, slots=True)
class ModelPricing:
    """The prices of one model at one provider.

    ``rates`` apply to a request of up to the first tier's ``start`` input tokens; ``tiers``
    (ascending ``start``) replace them when the request's input tokens exceed ``start``.
    """

    provider: str
    model: str
    source: PriceSource
    # The genai-prices model id or the override's model key; for an estimate, the model's whose
    # prices these are.
    matched: str | None = None
    rates: Rates = _NO_RATES
    tiers: tuple[tuple[int, Rates], ...] = ()
    limits: ModelLimits = ModelLimits()

    @property
    def known(self) -> bool:
        return self.source != "unknown"

    def rates_for(self, input_tokens: int) -> Rates:
        rates = self.rates
        for start, tier_rates in self.tiers:
            if input_tokens > start:
                rates = tier_rates
            else:
                break
        return rates

    def cost(self, usage: UsageCounts) -> tuple[Decimal, Decimal]:
        """(input cost, output cost) of ``usage``, unrounded ``Decimal`` dollars."""
        if self.source == "unknown":
            return ZERO, ZERO
        return self.rates_for(usage.input_tokens).cost(usage)


# ------------------------------------------------------------------------------ override file


class PriceOverrideError(ValueError):
    """The override file cannot be read or holds something invalid (the server must not start)."""


Origin = Literal["file", "database"]


@dataclass(frozen=True, slots=True)
class _Override:
    key: str
    rates: Rates
    tiers: tuple[tuple[int, Rates], ...]
    limits: ModelLimits
    origin: Origin = "file"
    provider: str = "*"  # as the operator spelt it


def _decimal(value: object, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise PriceOverrideError(f"{where}: expected a decimal number (a string in JSON)")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise PriceOverrideError(f"{where}: {value!r} is not a decimal number") from None
    if not number.is_finite() or not ZERO <= number <= MAX_PRICE:
        raise PriceOverrideError(f"{where}: must be a number from 0 to {MAX_PRICE}")
    if number != number.quantize(Decimal(1).scaleb(-PRICE_PLACES)):
        raise PriceOverrideError(f"{where}: at most {PRICE_PLACES} decimal places")
    return number


def _positive_int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise PriceOverrideError(f"{where}: expected a whole number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise PriceOverrideError(f"{where}: expected a whole number") from None
    if not number.is_finite() or number != number.to_integral_value() or number < 0:
        raise PriceOverrideError(f"{where}: expected a whole number >= 0")
    return int(number)


def _rates(entry: Mapping[str, Any], where: str, base: Rates | None = None) -> Rates:
    values: dict[str, Decimal | None] = {}
    if base is not None:
        values = {key: getattr(base, key) for key in _RATE_KEYS}
    for key in _RATE_KEYS:
        if key in entry:
            values[key] = _decimal(entry[key], f"{where}.{key}")
    return Rates(**values)  # type: ignore[arg-type]


def _parse_entry(key: str, entry: object, where: str, origin: Origin = "file") -> _Override:
    if not isinstance(entry, Mapping):
        raise PriceOverrideError(f"{where}: expected a table of prices")
    allowed = {*_RATE_KEYS, "tiers", "context_window", "max_output_tokens"}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise PriceOverrideError(
            f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"
        )
    rates = _rates(entry, where)
    tiers: list[tuple[int, Rates]] = []
    raw_tiers = entry.get("tiers", [])
    if not isinstance(raw_tiers, list):
        raise PriceOverrideError(f"{where}.tiers: expected a list")
    previous = -1
    for i, tier in enumerate(raw_tiers):
        tier_where = f"{where}.tiers[{i}]"
        if not isinstance(tier, Mapping) or "start" not in tier:
            raise PriceOverrideError(f"{tier_where}: expected a table with 'start'")
        extra = sorted(set(tier) - {*_RATE_KEYS, "start"})
        if extra:
            raise PriceOverrideError(f"{tier_where}: unknown key(s) {', '.join(extra)}")
        start = _positive_int(tier["start"], f"{tier_where}.start")
        if start <= previous:
            raise PriceOverrideError(f"{tier_where}.start: starts must be strictly ascending")
        previous = start
        tiers.append((start, _rates(tier, tier_where, base=tiers[-1][1] if tiers else rates)))
    limits = ModelLimits(
        context_window=(
            _positive_int(entry["context_window"], f"{where}.context_window") or None
            if "context_window" in entry
            else None
        ),
        max_output_tokens=(
            _positive_int(entry["max_output_tokens"], f"{where}.max_output_tokens") or None
            if "max_output_tokens" in entry
            else None
        ),
    )
    return _Override(key=key, rates=rates, tiers=tuple(tiers), limits=limits, origin=origin)


_Overrides = dict[str, tuple[dict[str, _Override], tuple[tuple[str, _Override], ...]]]
"""provider (lower case, or "*") -> (exact model -> entry, (prefix, entry) longest first)."""


def _parse_overrides(data: object, source: str, origin: Origin = "file") -> _Overrides:
    if not isinstance(data, Mapping):
        raise PriceOverrideError(f"{source}: expected a table of providers")
    result: _Overrides = {}
    for provider, models in data.items():
        if not isinstance(provider, str) or not provider.strip():
            raise PriceOverrideError(f"{source}: provider names must be non-empty strings")
        if not isinstance(models, Mapping):
            raise PriceOverrideError(f"{source}: {provider}: expected a table of models")
        exact: dict[str, _Override] = {}
        prefixes: list[tuple[str, _Override]] = []
        for model, entry in models.items():
            if not isinstance(model, str) or not model.strip():
                raise PriceOverrideError(f"{source}: {provider}: model names must be strings")
            name = _normalize(model)
            parsed = replace(
                _parse_entry(model, entry, f"{source}: {provider}.{model}", origin),
                provider=provider.strip(),
            )
            if name.endswith("*"):
                prefixes.append((name[:-1], parsed))
            else:
                exact[name] = parsed
        prefixes.sort(key=lambda item: len(item[0]), reverse=True)
        key = provider.strip().lower()
        if key in result:
            raise PriceOverrideError(f"{source}: provider {provider!r} is given twice")
        result[key] = (exact, tuple(prefixes))
    return result


def load_overrides(path: str | Path) -> _Overrides:
    """Read and validate an override file (TOML, or JSON for ``*.json``)."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise PriceOverrideError(f"cannot read the model price file {file}: {exc}") from None
    if file.suffix.lower() == ".json":
        try:
            data = json.loads(raw, parse_float=Decimal, parse_int=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PriceOverrideError(f"{file}: invalid JSON: {exc}") from None
    else:
        toml: Any = None
        for module in ("tomllib", "tomli"):  # tomllib: Python 3.11+; tomli: 3.10
            try:
                toml = importlib.import_module(module)
                break
            except ImportError:
                continue
        if toml is None:
            raise PriceOverrideError(
                f"{file}: TOML needs Python 3.11+ or the 'tomli' package; use a .json file"
            )
        try:
            data = toml.loads(raw.decode("utf-8"), parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PriceOverrideError(f"{file}: invalid TOML: {exc}") from None
    return _parse_overrides(data, str(file))


def check_price(provider: str, model: str, prices: Mapping[str, object]) -> dict[str, object]:
    """Validate the prices of one model given to ``lava prices add`` (the price file's keys;
    prices as decimal strings) and return them as they are stored. Raises
    :class:`PriceOverrideError` naming what is wrong."""
    where = f"{provider} {model}"
    if not any(key in prices for key in _RATE_KEYS):
        raise PriceOverrideError(f"{where}: give at least one price (--input-mtok, ...)")
    _parse_entry(model, prices, where)
    return {
        key: value.strip() if isinstance(value, str) else value for key, value in prices.items()
    }


def database_overrides(rows: Iterable[tuple[str, str, Mapping[str, object]]]) -> _Overrides:
    """The prices stored with ``lava prices add``, as (provider, model, prices) rows, for
    :meth:`PriceBook.set_database_prices`."""
    data: dict[str, dict[str, Mapping[str, object]]] = {}
    for provider, model, prices in rows:
        data.setdefault(provider, {})[model] = prices
    return _parse_overrides(data, "lava prices add", origin="database")


# ------------------------------------------------------------------------------ genai-prices


def _normalize(model: str) -> str:
    model = model.strip().lower()
    if model.startswith("models/"):
        model = model[len("models/") :]
    return model


def _genai_convert(price: Any) -> tuple[Rates, tuple[tuple[int, Rates], ...]]:
    """genai-prices' ``ModelPrice`` -> our base rates and long-context tiers."""
    from genai_prices.types import TieredPrices

    raw = {k: v for k, v in vars(price).items() if v is not None and not k.startswith("_")}
    if "input_audio_hours" not in raw and "audio_hours" in raw:
        raw["input_audio_hours"] = raw["audio_hours"]
    if "output_audio_hours" not in raw and "audio_hours" in raw:
        raw["output_audio_hours"] = raw["audio_hours"]
    base: dict[str, Decimal] = {}
    tiered: dict[str, Any] = {}
    for key in _RATE_KEYS:
        value = raw.get(key)
        if isinstance(value, TieredPrices):
            base[key] = value.base
            tiered[key] = value
        elif isinstance(value, Decimal):
            base[key] = value
    rates = Rates(**base)
    starts = sorted({tier.start for value in tiered.values() for tier in value.tiers})
    tiers: list[tuple[int, Rates]] = []
    for start in starts:
        values = dict(base)
        for key, value in tiered.items():
            price_at = value.base
            for tier in value.tiers:
                if tier.start <= start:
                    price_at = tier.price
            values[key] = price_at
        tiers.append((start, Rates(**values)))
    return rates, tuple(tiers)


@dataclass(frozen=True, slots=True)
class _Entry:
    pricing: ModelPricing
    info: Any = None  # a genai-prices ModelInfo whose prices depend on the time


# -------------------------------------------------------------------------------- price book


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """One model price that the book knows, for ``lava prices list``."""

    provider: str  # our provider name, or "*" for any provider
    model: str  # as the provider's API names it (a trailing "*": a prefix pattern)
    source: Literal["genai-prices", "file", "database"]
    rates: Rates
    tiers: tuple[tuple[int, Rates], ...] = ()
    limits: ModelLimits = ModelLimits()


class PriceBook:
    """Model prices: the operator's (``lava prices add``, then the price file), then
    genai-prices' bundled snapshot; an unknown model is left to the caller's rule.

    Lookups are cached per (provider, model) (bounded: model names come from clients).
    """

    def __init__(
        self,
        overrides: _Overrides | None = None,
        *,
        use_genai_prices: bool = True,
        max_cache: int = 4096,
        max_warned: int = 10_000,
    ) -> None:
        self._file: _Overrides = overrides or {}
        self._database: _Overrides = {}
        self._overrides: _Overrides = self._file
        self._use_genai = use_genai_prices
        self._max_cache = max_cache
        self._cache: dict[tuple[str, str], _Entry] = {}
        self._dearest: dict[str, ModelPricing | None] = {}
        self._lock = threading.Lock()
        self._warned: set[tuple[str, str]] = set()
        self._max_warned = max_warned
        self._genai_providers: dict[str, Any] = {}
        self._converted: dict[int, tuple[Any, Rates, tuple[tuple[int, Rates], ...]]] = {}

    @classmethod
    def from_file(cls, path: str | Path | None, **kwargs: Any) -> PriceBook:
        """A price book with the override file at ``path`` (``None`` or ``""``: none)."""
        return cls(load_overrides(path) if path else None, **kwargs)

    def warm_up(self) -> None:
        """Load genai-prices' bundled data now (a fraction of a second, once per process)
        rather than during the first forwarded call."""
        if self._use_genai:
            for provider in GENAI_PROVIDER_IDS:
                self._genai_provider(provider)

    def set_database_prices(self, prices: _Overrides) -> None:
        """Put the prices stored with ``lava prices add`` (see :func:`database_overrides`) in
        force, in place of the ones set before. They win over the file's for the same provider
        and model name."""
        merged: _Overrides = {}
        for provider in {*self._file, *prices}:
            exact: dict[str, _Override] = {}
            prefixes: dict[str, _Override] = {}
            for layer in (self._file, prices):
                if provider in layer:
                    exact.update(layer[provider][0])
                    prefixes.update(layer[provider][1])
            longest_first = sorted(prefixes.items(), key=lambda item: len(item[0]), reverse=True)
            merged[provider] = (exact, tuple(longest_first))
        with self._lock:
            self._database = prices
            self._overrides = merged
            self._cache.clear()
            self._dearest.clear()

    # -- lookups -----------------------------------------------------------------------------------

    def lookup(self, provider: str, model: str, *, at: datetime | None = None) -> ModelPricing:
        """The prices of ``model`` at ``provider`` (our provider name), at time ``at`` (now)."""
        key = (provider, model)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._resolve(provider, model)
            with self._lock:
                if len(self._cache) >= self._max_cache:
                    self._cache.pop(next(iter(self._cache)), None)
                self._cache[key] = entry
        if entry.info is None:
            return entry.pricing
        return self._at_time(entry, at)

    def has_own_price(self, provider: str, model: str) -> bool:
        """Whether ``provider`` itself prices ``model``: an operator's price under its name, or
        the library's price for it; a price for any provider (``"*"``) alone does not count (it
        says what a model costs, not who serves it)."""
        pricing = self.lookup(provider, model)
        if not pricing.known:
            return False
        if pricing.source != "override":
            return True
        name = _normalize(model)
        table = self._overrides.get(provider.lower())
        if table is not None:
            exact, prefixes = table
            if name in exact or any(name.startswith(prefix) for prefix, _ in prefixes):
                return True
        return self._use_genai and bool(name) and self._find_genai(provider, name) is not None

    def limits(self, provider: str, model: str | None) -> ModelLimits | None:
        """Context window / output ceiling known for the model, or ``None`` if it is unknown."""
        if not model:
            return None
        pricing = self.lookup(provider, model)
        return pricing.limits if pricing.known else None

    def provider_cost(
        self, provider: str, model: str | None, usage: UsageCounts, *, at: datetime | None = None
    ) -> tuple[Decimal, Decimal]:
        """(input cost, output cost) of ``usage``, unrounded; (0, 0) for no or an unknown model."""
        if not model:
            return ZERO, ZERO
        return self.lookup(provider, model, at=at).cost(usage)

    def billed_price(
        self, provider: str, model: str | None, rule: UnknownModelRule
    ) -> ModelPricing:
        """The prices a billed call of ``model`` (``None``: the call names none) is charged at:
        the model's own, else by ``rule`` (``LAVA_UNKNOWN_MODEL``):

        - ``refuse``: :class:`InvalidRequest` (400, ``param`` ``model``) saying how to add a price;
        - ``estimate``: the prices of the dearest model known for ``provider`` (the highest output
          price per million tokens, then input; then the first name in alphabetical order), with
          ``source`` ``"estimated"`` and that model in ``matched``; refused as above when no model
          of ``provider`` has a price;
        - ``free``: provider cost 0 (logged once per model).
        """
        pricing = self.lookup(provider, model) if model else ModelPricing(provider, "", "unknown")
        if pricing.known:
            return pricing
        unknown = f"no price for model {model[:200]!r}" if model else "no model named"
        if rule == "free":
            self._warn_once(
                provider,
                model or "",
                f"{unknown} of provider {provider!r}: provider cost 0",
            )
            return pricing
        if rule == "estimate":
            like = self._dearest_of(provider)
            if like is not None:
                self._warn_once(
                    provider,
                    model or "",
                    f"{unknown} of provider {provider!r}: priced like its dearest model, "
                    f"{like.matched!r} (LAVA_UNKNOWN_MODEL=estimate)",
                )
                return replace(like, model=model or "", source="estimated")
        raise InvalidRequest(_unknown_message(provider, model, rule), param="model")

    def entries(self, provider: str | None = None, model: str | None = None) -> list[PriceEntry]:
        """Every price known (the library's for each of our providers, the file's, the
        database's), sorted by provider and model; ``provider``: only its own (and ``"*"``)
        entries; ``model``: only names containing it (case-insensitive)."""
        found: list[PriceEntry] = []
        for overrides in (self._file, self._database):
            for exact, prefixes in overrides.values():
                for entry in [*exact.values(), *(e for _, e in prefixes)]:
                    found.append(
                        PriceEntry(
                            entry.provider,
                            entry.key,
                            entry.origin,
                            entry.rates,
                            entry.tiers,
                            entry.limits,
                        )
                    )
        if self._use_genai:
            for ours in GENAI_PROVIDER_IDS:
                for info, rates, tiers in self._genai_models(ours):
                    found.append(
                        PriceEntry(
                            ours,
                            _own_name(ours, info.id),
                            "genai-prices",
                            rates,
                            tiers,
                            ModelLimits(context_window=info.context_window),
                        )
                    )
        wanted = model.lower() if model else None
        return sorted(
            (
                entry
                for entry in found
                if (provider is None or entry.provider.lower() in (provider.lower(), "*"))
                and (wanted is None or wanted in entry.model.lower())
            ),
            key=lambda entry: (entry.provider, entry.model.lower(), entry.source),
        )

    # -- resolution --------------------------------------------------------------------------------

    def _resolve(self, provider: str, model: str) -> _Entry:
        name = _normalize(model)
        override = self._find_override(provider, name)
        if override is not None:
            return _Entry(
                ModelPricing(
                    provider=provider,
                    model=model,
                    source="override",
                    matched=override.key,
                    rates=override.rates,
                    tiers=override.tiers,
                    limits=override.limits,
                )
            )
        if self._use_genai and name:
            found = self._find_genai(provider, name)
            if found is not None:
                info = found
                limits = ModelLimits(context_window=info.context_window)
                if isinstance(info.prices, list):
                    base = ModelPricing(provider, model, "genai-prices", info.id, limits=limits)
                    return _Entry(base, info=info)
                rates, tiers = self._convert(info.prices)
                return _Entry(
                    ModelPricing(
                        provider=provider,
                        model=model,
                        source="genai-prices",
                        matched=info.id,
                        rates=rates,
                        tiers=tiers,
                        limits=limits,
                    )
                )
        return _Entry(ModelPricing(provider=provider, model=model, source="unknown"))

    def _find_override(self, provider: str, name: str) -> _Override | None:
        for key in (provider.lower(), "*"):
            table = self._overrides.get(key)
            if table is None:
                continue
            exact, prefixes = table
            found = exact.get(name)
            if found is not None:
                return found
            for prefix, entry in prefixes:
                if name.startswith(prefix):
                    return entry
        return None

    def _dearest_of(self, provider: str) -> ModelPricing | None:
        """The dearest model with a price of its own at ``provider`` (library or operator, not
        ``"*"`` entries): by output price per million tokens, then input, then name."""
        if provider == "*":
            return None  # a report that names no provider: there is no "same provider"
        if provider in self._dearest:
            return self._dearest[provider]
        candidates: list[tuple[str, Rates, tuple[tuple[int, Rates], ...]]] = []
        table = self._overrides.get(provider.lower())
        if table is not None:
            exact, prefixes = table
            for entry in [*exact.values(), *(e for _, e in prefixes)]:
                candidates.append((entry.key, entry.rates, entry.tiers))
        if self._use_genai:
            for info, rates, tiers in self._genai_models(provider):
                candidates.append((info.id, rates, tiers))
        dearest = None
        if candidates:
            name, rates, tiers = min(
                candidates, key=lambda c: (-c[1].output_mtok, -c[1].input_mtok, c[0].lower())
            )
            dearest = ModelPricing(provider, name, "estimated", name, rates, tiers)
        with self._lock:
            self._dearest[provider] = dearest
        return dearest

    def _genai_models(
        self, provider: str
    ) -> Iterable[tuple[Any, Rates, tuple[tuple[int, Rates], ...]]]:
        """The library's models of ``provider``, with their prices now."""
        found = self._genai_provider(provider)
        if found is None or found[0] is None:
            return
        now = datetime.now(tz=timezone.utc)
        for info in found[0].models:
            price = info.get_prices(now) if isinstance(info.prices, list) else info.prices
            rates, tiers = self._convert(price)
            yield info, rates, tiers

    def _genai_provider(self, provider: str) -> Any:
        """(genai-prices provider, all its providers, {our own name of a model: model}) of
        ``provider``, or None when the library has no prices for it."""
        provider_id = GENAI_PROVIDER_IDS.get(provider)
        if provider_id is None:
            return None
        if provider not in self._genai_providers:
            from genai_prices.data_snapshot import find_provider_by_id, get_snapshot

            snapshot = get_snapshot()
            genai_provider = find_provider_by_id(snapshot.providers, provider_id)
            own_names = {
                _own_name(provider, info.id).lower(): info
                for info in (genai_provider.models if genai_provider is not None else ())
                if _own_name(provider, info.id) != info.id
            }
            self._genai_providers[provider] = (genai_provider, snapshot.providers, own_names)
        return self._genai_providers[provider]

    def _find_genai(self, provider: str, name: str) -> Any:
        found = self._genai_provider(provider)
        if found is None or found[0] is None:
            return None
        genai_provider, all_providers, own_names = found
        if name in own_names:
            return own_names[name]
        candidates = [name]
        if "/" in name:
            candidates.append(name.rsplit("/", 1)[-1])
        for candidate in candidates:
            try:
                info = genai_provider.find_model(candidate, all_providers=all_providers)
            except Exception:  # a matcher that chokes on odd input is a miss, not a crash
                info = None
            if info is not None:
                return info
        return None

    def _convert(self, price: Any) -> tuple[Rates, tuple[tuple[int, Rates], ...]]:
        cached = self._converted.get(id(price))
        if cached is not None and cached[0] is price:
            return cached[1], cached[2]
        rates, tiers = _genai_convert(price)
        with self._lock:
            if len(self._converted) >= self._max_cache:
                self._converted.clear()
            self._converted[id(price)] = (price, rates, tiers)
        return rates, tiers

    def _at_time(self, entry: _Entry, at: datetime | None) -> ModelPricing:
        when = at or datetime.now(tz=timezone.utc)
        rates, tiers = self._convert(entry.info.get_prices(when))
        base = entry.pricing
        return ModelPricing(
            provider=base.provider,
            model=base.model,
            source=base.source,
            matched=base.matched,
            rates=rates,
            tiers=tiers,
            limits=base.limits,
        )

    def _warn_once(self, provider: str, model: str, message: str) -> None:
        key = (provider, model)
        with self._lock:
            if key in self._warned:
                return
            if len(self._warned) >= self._max_warned:
                return
            self._warned.add(key)
            last = len(self._warned) == self._max_warned
        logger.warning("%s", message)
        if last:
            logger.warning("too many unpriced models: no more warnings about them")


def _unknown_message(provider: str, model: str | None, rule: UnknownModelRule) -> str:
    if provider == "*":
        what = (
            f"No price is known for model {model!r}, and the report names no provider "
            "(`provider`) at which to look it up"
        )
    elif model:
        what = f"No price is known for model {model[:200]!r} of provider {provider!r}"
    else:
        what = (
            f"This {provider} call names no model that the server can read before forwarding "
            "it (an ElevenLabs call without model_id, an upload without a model field), so its "
            "price is not known"
        )
    if rule == "estimate" and provider != "*":
        what += f", nor for any other model of {provider!r} to estimate it by"
    names = f"{shlex.quote(provider)} {shlex.quote(model or 'MODEL')}"
    example = f"lava prices add {names} --input-mtok N --output-mtok N"
    return (
        f"{what}: refused before anything was sent or charged (LAVA_UNKNOWN_MODEL={rule}). "
        f"The operator can add its price with `{example}` or in LAVA_MODEL_PRICES_FILE."
    )


# ------------------------------------------------------------------------ the default book

_default: PriceBook | None = None
_default_lock = threading.Lock()


def default_price_book() -> PriceBook:
    """A process-wide price book of the library alone (a server has its own, built from its
    settings: this one is for code without a server, such as tests and benchmarks)."""
    global _default
    book = _default
    if book is None:
        with _default_lock:
            if _default is None:
                _default = PriceBook()
            book = _default
    return book


def provider_cost(
    provider_name: str, model: str | None, usage: UsageCounts, *, at: datetime | None = None
) -> tuple[Decimal, Decimal]:
    """(input cost, output cost) in unrounded ``Decimal`` dollars of ``usage`` of ``model`` at
    ``provider_name`` (our provider name), from the default price book. The input cost includes
    cache reads and writes at their prices. (0, 0) for an unknown model (logged once)."""
    return default_price_book().provider_cost(provider_name, model, usage, at=at)


@functools.lru_cache(maxsize=1024)
def provider_for_model(model: str) -> str | None:
    """Our provider name for a model named without its provider (a merchant-reported request
    with only `model`), by genai-prices' model matcher; None when nothing matches."""
    from genai_prices.data_snapshot import get_snapshot

    try:
        provider, _ = get_snapshot().find_provider_model(model, None, None, None)
    except Exception:  # no match (the matcher raises LookupError and friends)
        return None
    ours = [name for name, genai_id in GENAI_PROVIDER_IDS.items() if genai_id == provider.id]
    return ours[0] if ours else None
