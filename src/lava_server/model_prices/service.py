"""The operator's model prices: `lava prices add/remove/list`, and the copy each server process
keeps of them.

`lava prices add` writes a row of `model_prices` in the database that every server process
shares (a price file on one host would reach only that host's servers). Each server process
reloads the table when it starts and then every `LAVA_MODEL_PRICES_REFRESH_SECONDS`
(`PriceRefresher`): a price added on any host is in force everywhere within that time, without a
restart. The table is small (one row per priced model), so a reload reads it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import fields
from typing import Any

from lava_server.db.engine import Database
from lava_server.db.models import ModelPrice
from lava_server.errors import InvalidRequest, NotFound
from lava_server.model_prices import repository
from lava_server.model_prices.book import (
    PriceBook,
    PriceEntry,
    PriceOverrideError,
    Rates,
    check_price,
    database_overrides,
)
from lava_server.settings import Settings
from lava_server.timeutil import utcnow

log = logging.getLogger("lava_server.model_prices")

ANY_PROVIDER = "*"


def _provider(provider: str, providers: Collection[str]) -> str:
    """Our spelling of a provider name (any case), or "*"."""
    if provider == ANY_PROVIDER:
        return provider
    for name in providers:
        if name.lower() == provider.strip().lower():
            return name
    raise InvalidRequest(
        f"Unknown provider {provider!r}: one of {', '.join(sorted(providers))}, or '*' for any "
        "provider.",
        param="provider",
    )


def _model(model: str) -> str:
    """The stored form of a model name: lower case (prices match names in any case)."""
    name = model.strip().lower()
    if not name or len(name) > 255 or not name.isprintable():
        raise InvalidRequest(
            "The model name must be 1 to 255 printable characters (a trailing '*' makes a "
            "prefix pattern).",
            param="model",
        )
    return name


async def add_price(
    db: Database,
    provider: str,
    model: str,
    prices: Mapping[str, object],
    providers: Collection[str],
) -> tuple[str, str]:
    """Add (or replace) the price of `model` at `provider` (one of `providers`, or "*"), in
    the price file's keys; returns the (provider, model) stored. Raises `InvalidRequest`."""
    provider = _provider(provider, providers)
    model = _model(model)
    try:
        stored = check_price(provider, model, prices)
    except PriceOverrideError as error:
        raise InvalidRequest(str(error), param="prices") from None
    async with db.write() as session:
        await repository.put(session, provider, model, stored, utcnow())
    return provider, model


async def remove_price(
    db: Database, provider: str, model: str, providers: Collection[str]
) -> tuple[str, str]:
    provider, model = _provider(provider, providers), _model(model)
    async with db.write() as session:
        if not await repository.remove(session, provider, model):
            raise NotFound(
                f"No price of model {model!r} at provider {provider!r} was added with "
                "`lava prices add` (the library's and the price file's are not removed here).",
                param="model",
            )
    return provider, model


async def list_prices(
    db: Database, settings: Settings, provider: str | None, model: str | None
) -> list[dict[str, Any]]:
    """Every price known (the library's, the price file's, the database's; see
    `PriceBook.entries` for the filters), as `render` shows them."""
    try:
        book = PriceBook.from_file(settings.model_prices_file)
    except PriceOverrideError as error:
        raise InvalidRequest(str(error), param="model_prices_file") from None
    async with db.read() as session:
        book.set_database_prices(database_overrides(_rows(await repository.all_prices(session))))
    return [render(entry) for entry in book.entries(provider, model)]


def render(entry: PriceEntry) -> dict[str, Any]:
    """One price as `lava prices list --json` prints it: the price file's keys, decimal
    strings; prices that are not set (or 0, but for input and output) left out."""
    return {
        "provider": entry.provider,
        "model": entry.model,
        "source": entry.source,
        "prices": _rates(entry.rates, always=("input_mtok", "output_mtok")),
        "tiers": [{"start": start, **_rates(rates)} for start, rates in entry.tiers],
        "context_window": entry.limits.context_window,
        "max_output_tokens": entry.limits.max_output_tokens,
    }


def _rates(rates: Rates, always: tuple[str, ...] = ()) -> dict[str, str]:
    return {
        name: str(value)
        for name, value in ((f.name, getattr(rates, f.name)) for f in fields(rates))
        if value is not None and (value or name in always)
    }


def _rows(found: Sequence[ModelPrice]) -> list[tuple[str, str, Mapping[str, Any]]]:
    return [(row.provider, row.model, row.prices) for row in found]


class PriceRefresher:
    """Keeps a server process's price book in step with `model_prices`."""

    def __init__(self, db: Database, book: PriceBook, interval: float) -> None:
        self.db = db
        self.book = book
        self.interval = interval
        self._loaded: list[tuple[str, str, Mapping[str, Any]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the prices now (a server does not answer with stale ones), then keep them fresh."""
        self.book.warm_up()
        await self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self) -> None:
        async with self.db.read() as session:
            rows = _rows(await repository.all_prices(session))
        if rows == self._loaded:
            return
        try:
            prices = database_overrides(rows)
        except PriceOverrideError:
            # Only a hand-edited row can be invalid: keep the prices in force and say so.
            log.exception("model_prices holds an invalid price; the previous prices stay")
            self._loaded = rows  # said once, not at every reload
            return
        self.book.set_database_prices(prices)
        self._loaded = rows
        log.info("model prices added with `lava prices add`: %d in force", len(rows))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.refresh()
            except Exception:  # the database is away: keep the prices in force, try again
                log.exception("reloading model prices failed")
