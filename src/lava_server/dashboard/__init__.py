"""The merchant dashboard at `/dashboard/` (`docs/dashboard.md`): server-rendered pages over the
services the API uses, signed in with dashboard users (`users.py`), one mode per page."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from lava_server.api.include import include
from lava_server.api.ratelimit import RateLimiter
from lava_server.dashboard import (
    assets,
    auth_routes,
    checkout,
    customers,
    keys,
    meters_page,
    overview,
    plans_page,
    requests_page,
    settings_page,
    webhooks,
)
from lava_server.dashboard.web import PREFIX, DashboardState, Refused, SignInFirst, render_html
from lava_server.db.engine import Database
from lava_server.payments import live
from lava_server.settings import Settings


def install(app: FastAPI, settings: Settings, db: Database) -> DashboardState:
    """Add the dashboard's routes to `app` (and `/`, which leads to it); the returned state's
    rate limiters are started and stopped with the app (`app.py`)."""
    state = DashboardState(
        settings=settings,
        db=db,
        failures_per_account=RateLimiter(
            settings.dashboard_sign_in_failures_per_minute,
            redis_url=settings.redis_url,
            prefix="lava:dashboard:account:",
        ),
        failures_per_address=RateLimiter(
            settings.dashboard_sign_in_failures_per_ip_per_minute,
            redis_url=settings.redis_url,
            prefix="lava:dashboard:address:",
        ),
    )
    missing = live.missing(*live.configured(settings))
    state.live_note = live.describe(missing) if missing else None
    app.state.dashboard = state

    @app.exception_handler(SignInFirst)
    async def _sign_in_first(_request: Request, exc: SignInFirst) -> Response:
        return RedirectResponse(
            f"{PREFIX}/sign-in?next={quote(exc.next_path, safe='/')}", status_code=303
        )

    @app.exception_handler(Refused)
    async def _refused(_request: Request, exc: Refused) -> Response:
        return render_html("refused.html", exc.status, message=exc.message, code=exc.status)

    @app.get("/", include_in_schema=False)
    async def _root() -> Response:
        return RedirectResponse(PREFIX + "/", status_code=307)

    include(app, assets.router)
    include(app, auth_routes.router)
    include(app, overview.router)
    include(app, customers.router)
    include(app, requests_page.router)
    include(app, meters_page.router)
    include(app, plans_page.router)
    include(app, checkout.router)
    include(app, keys.router)
    include(app, webhooks.router)
    include(app, settings_page.router)
    return state
