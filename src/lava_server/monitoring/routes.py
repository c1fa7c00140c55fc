"""`GET /metrics` (Prometheus' text format), answered only to a caller with the bearer token of
`LAVA_METRICS_TOKEN`: without one set it answers 404, so that a server put on a public address
never shows its traffic and its wallets' totals to anyone."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from fastapi import APIRouter, Depends, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Metric,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from lava_server.api.state import AppState, get_state
from lava_server.errors import InvalidCredentials, NotFound
from lava_server.metrics import multiprocess
from lava_server.monitoring import repository
from lava_server.timeutil import utcnow

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request, state: AppState = Depends(get_state)) -> Response:
    token = state.settings.metrics_token
    if not token:
        raise NotFound("Not found: /metrics is served once LAVA_METRICS_TOKEN is set.")
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise InvalidCredentials(
            "Send `Authorization: Bearer <LAVA_METRICS_TOKEN>` to read /metrics.",
            param="Authorization",
        )
    async with state.db.read() as session:
        families = await _database_families(session)
    body = generate_latest(_process_registry()) + generate_latest(_Snapshot(families).registry())
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _process_registry() -> CollectorRegistry:
    """The series the server processes moved: this process's, or every process's when they
    share a directory (`lava serve --workers N`)."""
    if not multiprocess():
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


async def _database_families(session: AsyncSession) -> list[Metric]:
    totals = await repository.wallet_totals(session)
    last_entry = await repository.last_ledger_entry(session)
    backlog = await repository.webhook_backlog(session)
    wallets = GaugeMetricFamily("lava_wallets", "Wallets, by mode.", labels=["mode"])
    balance = GaugeMetricFamily(
        "lava_wallet_balance_usd",
        "Sum of the wallets' balances (each the sum of its ledger entries), by mode.",
        labels=["mode"],
    )
    held = GaugeMetricFamily(
        "lava_wallet_held_usd",
        "Sum of the open holds of forwarded calls in flight, by mode.",
        labels=["mode"],
    )
    for mode in totals:
        label = ["live" if mode.livemode else "sandbox"]
        wallets.add_metric(label, mode.wallets)
        balance.add_metric(label, float(mode.balance))
        held.add_metric(label, float(mode.held))
    entries = GaugeMetricFamily(
        "lava_ledger_last_entry_id",
        "Id of the newest ledger entry: grows with every money movement.",
        value=last_entry,
    )
    pending = GaugeMetricFamily(
        "lava_webhook_pending_deliveries",
        "Webhook deliveries not yet delivered nor given up (due now or waiting for a retry).",
        value=backlog.pending_deliveries,
    )
    outbox = GaugeMetricFamily(
        "lava_webhook_outbox_rows",
        "Changes waiting in the webhooks' outbox to become events.",
        value=backlog.outbox_rows,
    )
    overdue = GaugeMetricFamily(
        "lava_webhook_oldest_due_seconds",
        "How long the oldest pending delivery has been due (0: none is due).",
        value=max(0.0, (utcnow() - backlog.oldest_due).total_seconds())
        if backlog.oldest_due is not None
        else 0.0,
    )
    return [wallets, balance, held, entries, pending, outbox, overdue]


class _Snapshot:
    """A collector of families read once (the database's values of one scrape)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families

    def registry(self) -> CollectorRegistry:
        registry = CollectorRegistry(auto_describe=True)
        registry.register(self)
        return registry
