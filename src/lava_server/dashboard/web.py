"""What every dashboard page shares: the URL layout, who is signed in, the mode, forms with their
CSRF token, the admin check, rendering, and the page headers.

URL layout (`docs/dashboard.md`):

- `/dashboard/sign-in`, `/dashboard/sign-in/link/{token}`, `/dashboard/sign-out`,
  `/dashboard/sign-out-everywhere`, `/dashboard/assets/{file}`: outside any mode.
- `/dashboard/{mode}/...` with `mode` `test` (sandbox) or `live`: every page, which shows that
  mode's data only.

A page handler takes `page: Page = Depends(signed_in)`: the signed-in user (else a redirect to
the sign-in page), the mode of its URL and the `Caller` the services take. An action (any POST
that changes something) takes `act: Action = Depends(admin_action)`: the form, read, with its
CSRF token checked (403 without it) and the user an admin (403 for a viewer), before the handler
runs. `page.render(template, **context)` renders a template of `dashboard/templates/`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, ValidationError

from lava_server.api.auth import Caller
from lava_server.api.ratelimit import RateLimiter
from lava_server.dashboard import users
from lava_server.db.engine import Database
from lava_server.errors import InvalidRequest, field_path
from lava_server.payments.context import Billing
from lava_server.settings import Settings

PREFIX = "/dashboard"
SESSION_COOKIE = "lava_dashboard"
SIGN_IN_COOKIE = "lava_dashboard_sign_in"  # the sign-in forms' CSRF token (double submit)
MODES = {"test": False, "live": True}
TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
_MAX_FIELDS = 250  # a meter's tier editor: 2 fields a tier, up to 100 tiers

templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str  # under /dashboard/{mode}/: "" is the Overview


# The navigation, in order. A page added to the dashboard adds its entry here.
NAV: list[NavItem] = [
    NavItem("Overview", ""),
    NavItem("Customers", "customers"),
    NavItem("Requests", "requests"),
    NavItem("Meters", "meters"),
    NavItem("Plans", "plans"),
    NavItem("Checkout", "checkout"),
    NavItem("Keys", "keys"),
    NavItem("Webhooks", "webhooks"),
    NavItem("Settings", "settings"),
]


@dataclass
class DashboardState:
    """What the dashboard keeps for the process's life (`app.state.dashboard`)."""

    settings: Settings
    db: Database
    failures_per_account: RateLimiter
    failures_per_address: RateLimiter
    live_note: str | None = None  # why live mode takes no real money yet (None: it does)


class SignInFirst(Exception):
    """No valid session: answered with a redirect to the sign-in page (then back to `next`)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Refused(Exception):
    """A request the dashboard refuses (403 forged form or viewer, 404 unknown mode...): an HTML
    page saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def state_of(request: Request) -> DashboardState:
    found: DashboardState = request.app.state.dashboard
    return found


def security_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def render_html(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    body = templates.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status, headers=security_headers())


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=PREFIX, httponly=True, samesite="lax", secure=is_https(request)
    )


async def read_form(request: Request) -> dict[str, str]:
    """A urlencoded form; anything else is refused (a page's forms send nothing else)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise Refused(415, "Please submit the form on the page.")
    try:
        text = (await request.body()).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "Please submit the form on the page.") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def same_token(sent: str | None, expected: str | None) -> bool:
    return bool(sent) and bool(expected) and hmac.compare_digest(str(sent), str(expected))


FORGED = (
    "This form was not sent from a page of this dashboard (its security token is missing or "
    "stale). Reload the page and try again."
)


@dataclass
class Page:
    """A signed-in request to a page of one mode."""

    request: Request
    visitor: users.Visitor
    mode: str
    dashboard: DashboardState
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def livemode(self) -> bool:
        return MODES[self.mode]

    @property
    def db(self) -> Database:
        return self.dashboard.db

    @property
    def settings(self) -> Settings:
        return self.dashboard.settings

    @property
    def billing(self) -> Billing:
        billing: Billing = self.request.app.state.billing
        return billing

    @property
    def caller(self) -> Caller:
        """The merchant and mode, as the services of the API take them."""
        return Caller(
            merchant_id=self.visitor.merchant.id,
            livemode=self.livemode,
            key_id=f"dashboard:{self.visitor.user.id}",
        )

    @property
    def is_admin(self) -> bool:
        return self.visitor.is_admin

    @property
    def public_base(self) -> str:
        """The server's root URL for snippets: `LAVA_PUBLIC_URL` when set, else the one this
        browser reached it by."""
        if self.settings.public_url:
            return self.settings.public_base
        return str(self.request.base_url)

    @property
    def base_url(self) -> str:
        """The API's base URL for snippets (`.../v1/`)."""
        return self.public_base + "v1/"

    def url(self, path: str = "", mode: str | None = None) -> str:
        return f"{PREFIX}/{mode or self.mode}/{path}"

    def switch_url(self, mode: str) -> str:
        """This page's section in `mode` (the mode switch): an object of one mode does not
        exist in the other, so a customer's page switches to the customers list."""
        rest = self.request.url.path.removeprefix(f"{PREFIX}/{self.mode}/")
        return self.url(rest.split("/")[0], mode)

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        section = self.request.url.path.removeprefix(f"{PREFIX}/{self.mode}/").split("/")[0]
        return render_html(
            template,
            status,
            page=self,
            nav=NAV,
            section=section,
            user=self.visitor.user,
            merchant=self.visitor.merchant,
            csrf=self.visitor.session.csrf_token,
            sandbox=not self.livemode,
            live_note=self.dashboard.live_note if self.livemode else None,
            **context,
        )

    def redirect(self, path: str = "", notice: str | None = None) -> RedirectResponse:
        """303 to a page of this mode (after an action), with a notice shown once."""
        target = self.url(path)
        if notice:
            target += ("&" if "?" in target else "?") + "notice=" + quote(notice)
        return RedirectResponse(target, status_code=303)


@dataclass
class Action:
    """A checked POST: the page it came from and its form."""

    page: Page
    form: Mapping[str, str]


def _mode(mode: str) -> str:
    if mode not in MODES:
        raise Refused(404, "No such page: the dashboard's modes are test and live.")
    return mode


async def current_visitor(request: Request) -> users.Visitor | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 100:
        return None
    return await users.visitor(state_of(request).db, token)


async def signed_in(request: Request, mode: str) -> Page:
    """Dependency of every page: the session (else a redirect to sign in) and the mode."""
    _mode(mode)
    visitor = await current_visitor(request)
    if visitor is None:
        raise SignInFirst(request.url.path)
    return Page(request, visitor, mode, state_of(request))


async def checked_form(request: Request, mode: str) -> Action:
    """Dependency of a POST any signed-in user may send (its own password, sign out): the form
    with its CSRF token checked."""
    page = await signed_in(request, mode)
    form = await read_form(request)
    if not same_token(form.get("csrf_token"), page.visitor.session.csrf_token):
        raise Refused(403, FORGED)
    return Action(page, form)


async def admin_action(request: Request, mode: str) -> Action:
    """Dependency of every action on the merchant's data: CSRF checked, admins only."""
    action = await checked_form(request, mode)
    if not action.page.is_admin:
        raise Refused(
            403, "Your role is viewer: you can see this dashboard but not change anything."
        )
    return action


def usd(value: Decimal | str | int | None) -> str:
    """Dollars for people: cents when a cent or more, else up to six decimals."""
    if value is None:
        return "—"
    amount = Decimal(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == 0 or amount >= Decimal("0.01"):
        return f"{sign}${amount:,.2f}"
    text = f"{amount:.6f}".rstrip("0")
    return f"{sign}${text}" if text != "0." else f"{sign}<$0.000001"


def when(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


templates.filters["usd"] = usd
templates.filters["when"] = when
templates.filters["number"] = number


# What forms and lists of several pages share.


def list_cursor(value: str | None, pattern: Any) -> str | None:
    """A page link's cursor, checked against the ids it may be."""
    if not value:
        return None
    if not pattern.fullmatch(value):
        raise Refused(400, "This page link is not valid: go back to the first page.")
    return value


def parsed(model: type[BaseModel], body: dict[str, Any]) -> Any:
    """The API's body model, with the API's message for the first problem."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        field = field_path(first.get("loc", ()))
        if first.get("type") == "missing":
            message = f"{field} is required."
        else:
            text = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
            message = f"{field}: {text}" if field else text
        raise InvalidRequest(message, param=field or None) from None


def utc_field(value: str) -> str | None:
    """A `datetime-local` field (no zone) is read as UTC."""
    text = value.strip()
    if not text:
        return None
    return text if text.endswith("Z") or "+" in text[10:] else text + "Z"
