"""Registers checkout, subscriptions and the worker in the app (one call from `create_app`)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from lava_server.checkout.page import router as page_router
from lava_server.checkout.routes import router as checkout_router
from lava_server.db.engine import Database
from lava_server.payments.context import Billing
from lava_server.settings import Settings
from lava_server.subscriptions.routes import router as subscriptions_router
from lava_server.web import STATIC
from lava_server.worker.runner import embed_in


def install(app: FastAPI, settings: Settings, db: Database) -> Billing:
    """`app.state.billing` (tests may replace it before the app starts), the routes, the page's
    static files, and the worker loop unless a separate `lava worker` is configured."""
    billing = Billing(settings, db)
    app.state.billing = billing
    app.include_router(checkout_router)
    app.include_router(subscriptions_router)
    app.include_router(page_router)
    app.mount("/embed/static", StaticFiles(directory=STATIC), name="checkout-static")
    if not settings.separate_worker:
        embed_in(app)
    return billing
