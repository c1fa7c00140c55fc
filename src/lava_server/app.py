"""The ASGI application: `create_app()`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client.multiprocess import mark_process_dead
from starlette.types import ASGIApp, Receive, Scope, Send

from lava_server import __version__, dashboard, outbox
from lava_server.api import docs, openapi
from lava_server.api.context import ROUTE, RequestContextMiddleware, state_of
from lava_server.api.guard import InputGuard
from lava_server.api.idempotency import IdempotencyMiddleware, purge_expired
from lava_server.api.include import include
from lava_server.api.ratelimit import AuthFailures, RateLimiter
from lava_server.api.schemas import Health
from lava_server.api.state import AppState
from lava_server.catalog.routes import router_with as models_router_with
from lava_server.checkout.page import router as checkout_page_router
from lava_server.checkout.routes import router as checkout_router
from lava_server.checkout.send_limits import SendLimits
from lava_server.checkout.stripe_webhook import router as stripe_webhook_router
from lava_server.connections.routes import router as connections_router
from lava_server.connections.routes import test_helpers as test_helpers_router
from lava_server.customers.routes import router as customers_router
from lava_server.db.engine import Database
from lava_server.errors import MethodNotAllowed, install_error_handlers, send_error
from lava_server.merchants.routes import router as secret_keys_router
from lava_server.metering.abandoned import ProcessHeartbeat
from lava_server.metering.reported import RequestBatcher
from lava_server.metering.top_up import AutoTopUp
from lava_server.metrics import DB_POOL_CAPACITY, multiprocess
from lava_server.model_prices.book import PriceBook
from lava_server.model_prices.service import PriceRefresher
from lava_server.money_ops.routes import router as money_router
from lava_server.monitoring.routes import router as metrics_router
from lava_server.payments.context import Billing
from lava_server.products.routes import meters as meters_router
from lava_server.products.routes import router as products_router
from lava_server.proxy.rewrite.gateway import GATEWAY_PATHS, GatewayProxy
from lava_server.proxy.rewrite.route import REWRITE_PATH, RewriteProxy
from lava_server.proxy.rewrite.schemas import gateway_paths, rewrite_paths
from lava_server.proxy.routes import FORWARD_PATH, ForwardProxy
from lava_server.proxy.routes import METHODS as FORWARD_METHODS
from lava_server.proxy.schemas import SECURITY_SCHEMES as FORWARD_SECURITY
from lava_server.proxy.schemas import forward_paths
from lava_server.requests.routes import CreateRequest, router_with
from lava_server.requests.routes import read as requests_router
from lava_server.settings import Settings
from lava_server.spend_keys.routes import router as spend_keys_router
from lava_server.subscriptions.current_routes import router as plans_router
from lava_server.subscriptions.routes import router as subscriptions_router
from lava_server.usage.routes import router as usage_router
from lava_server.web import STATIC
from lava_server.webhooks.routes import router as webhooks_router
from lava_server.webhooks.worker import Deliverer
from lava_server.worker.runner import embed_in

log = logging.getLogger("lava_server")
_PURGE_EVERY_SECONDS = 3600


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the app. The database must already be migrated (`lava serve` does it)."""
    settings = settings or Settings()
    owns_database = database is None
    db = database or Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    prices = PriceBook.from_file(settings.model_prices_file)
    state = AppState(
        settings=settings,
        db=db,
        rate_limiter=RateLimiter(settings.rate_limit_per_minute, redis_url=settings.redis_url),
        auth_failures=RateLimiter(
            settings.auth_failures_per_minute,
            redis_url=settings.redis_url,
            prefix="lava:authfail:",
        ),
    )
    batcher = RequestBatcher(db, settings, prices)
    create_request = CreateRequest(batcher.submit)

    heartbeat = ProcessHeartbeat(db, settings.process_heartbeat_seconds)
    state.process_id = heartbeat.id
    forward = ForwardProxy(settings, db, prices, process_id=heartbeat.id)
    price_refresher = PriceRefresher(db, prices, settings.model_prices_refresh_seconds)
    outbox.configure(settings)
    # Webhook deliveries run beside the worker loop: here unless `lava worker` runs apart.
    deliverer = None if settings.separate_worker else Deliverer(db, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What exists at start-up lives for the whole process: keep the collector off it, and
        # collect young objects less often (fewer pauses on the hot paths).
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        DB_POOL_CAPACITY.inc(db.pool_capacity)
        await heartbeat.start()
        await price_refresher.start()
        await state.rate_limiter.start()
        await state.auth_failures.start()
        await dashboard_state.failures_per_account.start()
        await dashboard_state.failures_per_address.start()
        purger = asyncio.create_task(_purge_idempotency_keys(state))
        if deliverer is not None:
            await deliverer.start()
        try:
            yield
        finally:
            if deliverer is not None:
                await deliverer.stop()
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            await state.rate_limiter.stop()
            await _app.state.code_limits.close()
            await state.auth_failures.stop()
            await dashboard_state.failures_per_account.stop()
            await dashboard_state.failures_per_address.stop()
            await price_refresher.stop()
            await forward.aclose()
            await batcher.aclose()
            await heartbeat.stop()
            if owns_database:
                await db.dispose()
            DB_POOL_CAPACITY.dec(db.pool_capacity)
            if multiprocess():
                mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    app = FastAPI(
        title="Lava API (self-hosted)",
        version=__version__,
        description="Lava-compatible usage-based billing API, version 2025-04-28.v1.",
        lifespan=lifespan,
        docs_url=None,  # `api.docs` serves /docs and /redoc without a CDN
        redoc_url=None,
    )
    app.state.lava = state
    app.state.forward = forward
    app.state.deliverer = deliverer
    install_error_handlers(app, base_url=settings.base_url)

    @app.get("/healthz", tags=["health"], summary="Liveness and database check")
    async def healthz() -> Health:
        async with db.read() as session:
            await session.connection()
        return {"status": "ok"}

    include(app, connections_router)
    include(app, customers_router)
    include(app, secret_keys_router)
    include(app, spend_keys_router)
    app.include_router(models_router_with(prices))
    include(app, products_router)
    include(app, meters_router)
    app.include_router(router_with(create_request))
    include(app, requests_router)
    include(app, usage_router)
    include(app, test_helpers_router)
    # What checkout, subscriptions and the worker share (tests may replace it before start-up).
    app.state.billing = Billing(settings, db)
    # The hourly limits of one-time code sends, shared through Redis or the database.
    app.state.code_limits = SendLimits(settings, db)
    # Both doors buy a wallet's auto top-up bundle with the payment providers of
    # `app.state.billing` as found when they do (`metering.top_up`).
    top_up = AutoTopUp(lambda: cast(Billing, app.state.billing))
    batcher.top_up = top_up
    forward.billing.top_up = top_up
    include(app, checkout_router)
    include(app, subscriptions_router)
    include(app, plans_router)
    include(app, webhooks_router)
    include(app, money_router)
    include(app, checkout_page_router)
    include(app, stripe_webhook_router)
    include(app, metrics_router)
    app.mount("/embed/static", StaticFiles(directory=STATIC), name="checkout-static")
    dashboard_state = dashboard.install(app, settings, db)  # /dashboard/, and / leads there
    if not settings.separate_worker:
        embed_in(app)  # the worker loop runs as long as the app, unless `lava worker` runs apart
    openapi.install(
        app,
        paths={**forward_paths(), **rewrite_paths(), **gateway_paths()},
        security_schemes=FORWARD_SECURITY,
    )
    docs.install(app)

    rewrite = RewriteProxy(forward)
    app.add_middleware(
        HotPaths,
        forward=forward,
        rewrite=rewrite,
        gateway=GatewayProxy(rewrite),
        create_request=create_request,
    )
    proxy_paths = (FORWARD_PATH, REWRITE_PATH + "/", *GATEWAY_PATHS)
    app.add_middleware(IdempotencyMiddleware, state=state, exclude_prefixes=proxy_paths)
    app.add_middleware(InputGuard, skip_body_prefixes=proxy_paths)
    app.add_middleware(AuthFailures, limiter=state.auth_failures)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        forward_prefix=proxy_paths,
        max_forward_body_bytes=settings.max_forward_body_bytes,
        # `debug` logs every request too (uvicorn's own access log would show paths, and a
        # checkout page's path holds its secret; these lines show the route's template).
        log_requests=settings.log_requests or settings.log_level == "debug",
    )
    return app


async def _purge_idempotency_keys(state: AppState) -> None:
    while True:
        await asyncio.sleep(_PURGE_EVERY_SECONDS)
        try:
            await purge_expired(state)
        except Exception:
            log.exception("purging expired idempotency keys failed")


# GET brings HEAD, as in Starlette's routes; any other method is refused with 405.
_FORWARD_METHODS = frozenset([*FORWARD_METHODS, "HEAD"])
_REWRITE_PREFIX = REWRITE_PATH + "/"
_FORWARD_ALLOW = [(b"allow", ", ".join([*FORWARD_METHODS, "HEAD"]).encode())]


class HotPaths:
    """ASGI middleware: the hot paths, `POST /v1/requests`, `/v1/forward`, its rewrite door
    `/v1/rewrite/` and the gateway doors `/v1/chat/completions` and `/v1/messages`, go straight
    to their handlers, skipping routing and FastAPI's per-request machinery (about 0.1 ms a
    call). The router never sees `/v1/forward` (its API document comes from `proxy.schemas`); it
    keeps the `POST /v1/requests` route for the API document."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        forward: ForwardProxy,
        rewrite: RewriteProxy,
        gateway: GatewayProxy,
        create_request: ASGIApp,
    ) -> None:
        self.app = app
        self.forward = forward
        self.rewrite = rewrite
        self.gateway = gateway
        self.create_request = create_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(FORWARD_PATH) and path[
                len(FORWARD_PATH) : len(FORWARD_PATH) + 1
            ] in ("", "/"):
                state_of(scope)[ROUTE] = FORWARD_PATH
                if scope["method"] in _FORWARD_METHODS:
                    await self.forward(scope, receive, send)
                else:
                    await send_error(
                        send,
                        405,
                        MethodNotAllowed.code,
                        "Method not allowed on this route.",
                        headers=_FORWARD_ALLOW,
                    )
                return
            if path.startswith(_REWRITE_PREFIX):
                state_of(scope)[ROUTE] = _REWRITE_PREFIX
                await self.rewrite(scope, receive, send)  # its own 405 for other methods
                return
            if path in GATEWAY_PATHS:
                state_of(scope)[ROUTE] = path
                await self.gateway(scope, receive, send)  # its own 405 for other methods
                return
            if path == "/v1/requests" and scope["method"] == "POST":
                state_of(scope)[ROUTE] = path
                await self.create_request(scope, receive, send)
                return
        await self.app(scope, receive, send)
