"""Signing in and out: the sign-in form (rate limited per account and per client address), the
one-time sign-in link, sign-out, sign-out everywhere, and the account page (a new password)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lava_server.dashboard import users
from lava_server.dashboard.web import (
    FORGED,
    PREFIX,
    SIGN_IN_COOKIE,
    Action,
    Page,
    Refused,
    checked_form,
    clear_session_cookie,
    client_address,
    current_visitor,
    is_https,
    read_form,
    render_html,
    same_token,
    set_session_cookie,
    signed_in,
    state_of,
)
from lava_server.errors import ApiError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
HOME = f"{PREFIX}/test/"


def _safe_next(value: str | None) -> str:
    """Only a path of the dashboard: never another site (an open redirect)."""
    if (
        value
        and value.startswith(PREFIX + "/")
        and not value.startswith("//")
        and "\\" not in value
    ):
        return value
    return HOME


def _with_sign_in_token(
    request: Request, template: str, status: int = 200, **context: object
) -> HTMLResponse:
    """A sign-in page with a fresh CSRF token in its form and in a cookie (double submit)."""
    token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
    response = render_html(template, status, csrf=token, **context)
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=3600,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    return response


def _check_sign_in_token(request: Request, form: dict[str, str]) -> None:
    if not same_token(form.get("csrf_token"), request.cookies.get(SIGN_IN_COOKIE)):
        raise Refused(403, FORGED)


def _signed_in_response(request: Request, signed: users.SignedIn, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    max_age = int((signed.row.expires_at - signed.row.created_at).total_seconds())
    set_session_cookie(response, request, signed.token, max_age)
    response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
    return response


@router.get("")
async def dashboard_root() -> Response:
    return RedirectResponse(HOME, status_code=307)


@router.get("/")
async def dashboard_home() -> Response:
    return RedirectResponse(HOME, status_code=307)


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    if await current_visitor(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _with_sign_in_token(request, "sign_in.html", next=_safe_next(next), email="", error=None)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await read_form(request)
    _check_sign_in_token(request, form)
    dashboard = state_of(request)
    email = form.get("email", "").strip().lower()[:320]
    target = _safe_next(form.get("next"))
    address = client_address(request)
    per_address, per_account = dashboard.failures_per_address, dashboard.failures_per_account
    if per_address.used(address) >= per_address.per_minute or (
        email and per_account.used(email) >= per_account.per_minute
    ):
        return _with_sign_in_token(
            request,
            "sign_in.html",
            429,
            next=target,
            email=email,
            error="Too many failed sign-ins: wait a minute, then try again.",
        )
    signed = await users.sign_in(dashboard.db, dashboard.settings, email, form.get("password", ""))
    if signed is None:
        per_address.hit(address)
        if email:
            per_account.hit(email)
        return _with_sign_in_token(
            request,
            "sign_in.html",
            401,
            next=target,
            email=email,
            error="Wrong email or password.",
        )
    return _signed_in_response(request, signed, target)


@router.get("/sign-in/link/{token}")
async def link_page(request: Request, token: str) -> Response:
    """A page with one button: a link only signs in when posted, so that a mail scanner or a
    browser's prefetch that opens it does not use it up."""
    return _with_sign_in_token(request, "sign_in_link.html", token=token)


@router.post("/sign-in/link/{token}")
async def use_link(request: Request, token: str) -> Response:
    form = await read_form(request)
    _check_sign_in_token(request, form)
    dashboard = state_of(request)
    signed = await users.use_link(dashboard.db, dashboard.settings, token[:100])
    if signed is None:
        return _with_sign_in_token(
            request,
            "sign_in.html",
            410,
            next=HOME,
            email="",
            error="This sign-in link was used already or has expired. Ask an admin for a new "
            "one (lava users reset-password EMAIL), or sign in with your password.",
        )
    return _signed_in_response(request, signed, f"{PREFIX}/test/account?welcome=1")


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    visitor = await current_visitor(request)
    if visitor is not None:
        form = await read_form(request)
        if not same_token(form.get("csrf_token"), visitor.session.csrf_token):
            raise Refused(403, FORGED)
        await users.sign_out(state_of(request).db, visitor.session.id)
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    clear_session_cookie(response, request)
    return response


@router.post("/sign-out-everywhere")
async def sign_out_everywhere(request: Request) -> Response:
    visitor = await current_visitor(request)
    if visitor is not None:
        form = await read_form(request)
        if not same_token(form.get("csrf_token"), visitor.session.csrf_token):
            raise Refused(403, FORGED)
        await users.sign_out_everywhere(state_of(request).db, visitor.user.id)
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    clear_session_cookie(response, request)
    return response


@router.get("/{mode}/account")
async def account(page: Page = Depends(signed_in), welcome: str | None = None) -> Response:
    return page.render("account.html", welcome=bool(welcome), error=None)


@router.post("/{mode}/account/password")
async def set_password(act: Action = Depends(checked_form)) -> Response:
    page = act.page
    password = act.form.get("password", "")
    if password != act.form.get("password_again", ""):
        return page.render(
            "account.html", 400, welcome=False, error="The two passwords are not the same."
        )
    try:
        await users.set_password(page.db, page.visitor.user.id, password, page.visitor.session.id)
    except ApiError as error:
        return page.render("account.html", 400, welcome=False, error=error.message)
    return page.redirect("account", "Password saved. Your other sessions were signed out.")
