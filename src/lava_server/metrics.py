"""Every Prometheus series of the server, defined once (`docs/deploy.md#what-to-monitor`).

The parts that count import the series they move from here; `monitoring/` serves them on
`GET /metrics` with the values read from the database at scrape time (wallet totals, the
webhook backlog).

Under `lava serve --workers N` the serve command points `PROMETHEUS_MULTIPROC_DIR` at a fresh
directory before the worker processes start: `prometheus_client` then keeps each process's
values in files there, and a scrape (answered by any one process) adds them up. Gauges say how
(`livesum`: the sum over the processes alive).

The hot paths move these series for a few microseconds a call: label children are looked up
once and kept (`cached_children`, or `labels()` at import), never built per call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_UPSTREAM = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_BATCH = (1, 2, 4, 8, 16, 32, 64, 128)
_WAIT = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

# -- HTTP (`api.context.RequestContextMiddleware`) ---------------------------------------------
HTTP_REQUESTS = Counter(
    "lava_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "lava_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template and method.",
    ["route", "method"],
    buckets=_LATENCY,
)

# -- the forward proxy (`proxy.routes`) ------------------------------------------------------
FORWARD_CALLS = Counter(
    "lava_forward_calls",
    "Forwarded provider calls by provider and outcome: completed, error (billed, the answer "
    "broke off or held an error), refused (the provider's 4xx/5xx, nothing billed), "
    "unreachable, timeout.",
    ["provider", "outcome"],
)
FORWARD_UPSTREAM = Histogram(
    "lava_forward_upstream_duration_seconds",
    "Time from sending a call upstream to the end of the provider's answer.",
    ["provider"],
    buckets=_UPSTREAM,
)
FORWARD_TTFB = Histogram(
    "lava_forward_upstream_ttfb_seconds",
    "Time from sending a call upstream to the provider's status and headers.",
    ["provider"],
    buckets=_UPSTREAM,
)
HOLDS_IN_FLIGHT = Gauge(
    "lava_holds_in_flight",
    "Forwarded calls holding part of a wallet's balance right now (held, not yet settled or "
    "released).",
    multiprocess_mode="livesum",
)

# -- the group commit (`metering.group_commit`) -----------------------------------------------
GROUP_COMMIT_BATCH = Histogram(
    "lava_group_commit_batch_size",
    "Jobs written together in one transaction, by group commit (reports, holds, settlements).",
    ["name"],
    buckets=_BATCH,
)
GROUP_COMMIT_WAIT = Histogram(
    "lava_group_commit_wait_seconds",
    "Time the oldest job of a batch waited before its transaction began.",
    ["name"],
    buckets=_WAIT,
)
GROUP_COMMIT_WRITE = Histogram(
    "lava_group_commit_write_seconds",
    "Time one batch's transaction took.",
    ["name"],
    buckets=(*_WAIT, 2.5, 5.0),
)

# -- webhooks (`webhooks.worker`) -------------------------------------------------------------
WEBHOOK_ATTEMPTS = Counter(
    "lava_webhook_attempts",
    "Webhook delivery attempts by outcome: delivered (2xx), refused (another status), "
    "unreachable (no answer).",
    ["outcome"],
)
WEBHOOK_GIVEN_UP = Counter(
    "lava_webhook_deliveries_given_up",
    "Webhook deliveries marked failed after failing for LAVA_WEBHOOK_GIVE_UP_SECONDS.",
)

# -- rate limits (`api.auth`, `api.ratelimit`, `proxy.routes`) -------------------------------
RATE_LIMIT_REFUSALS = Counter(
    "lava_rate_limit_refusals",
    "Requests refused with 429, by limit: secret_key (management routes), auth_failures "
    "(failed authentications of one address), spend_key (a spend key's calls a minute).",
    ["limit"],
)

# -- the database pool (`db.engine`) ----------------------------------------------------------
DB_CONNECTIONS_IN_USE = Gauge(
    "lava_db_connections_in_use",
    "Database connections checked out of the pools of the server processes.",
    multiprocess_mode="livesum",
)
DB_POOL_CAPACITY = Gauge(
    "lava_db_pool_capacity",
    "Most connections the pools of the server processes may open (PostgreSQL: pool size and "
    "overflow; SQLite: 0, no limit).",
    multiprocess_mode="livesum",
)

M = TypeVar("M", bound=MetricWrapperBase)


def cached_children(metric: M) -> Callable[..., M]:
    """`labels(*values)` remembered per tuple of values: a dict lookup a call afterwards."""
    found: dict[tuple[str, ...], M] = {}

    def get(*values: str) -> M:
        series = found.get(values)
        if series is None:
            series = found[values] = metric.labels(*values)
        return series

    return get


def multiprocess() -> bool:
    """The series live in files shared by several processes (`lava serve --workers N`)."""
    return bool(os.environ.get(MULTIPROC_DIR))
