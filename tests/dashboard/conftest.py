"""Dashboard fixtures: users of the `merchant` fixture's merchant, and signing in over HTTP the
way a browser does (the sign-in form's CSRF token, then the session cookie)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest

from lava_server.dashboard import users
from lava_server.db.engine import Database
from lava_server.settings import Settings

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@dataclass(frozen=True)
class User:
    email: str
    password: str
    merchant_id: str
    role: str


async def make_user(
    db: Database, settings: Settings, merchant_id: str, email: str, role: str
) -> User:
    await users.create_user(db, settings, email, merchant_id, role, PASSWORD)
    return User(email, PASSWORD, merchant_id, role)


@pytest.fixture
async def admin(db, settings, merchant) -> User:
    return await make_user(db, settings, merchant.merchant_id, "ana@example.com", "admin")


@pytest.fixture
async def viewer(db, settings, merchant) -> User:
    return await make_user(db, settings, merchant.merchant_id, "vic@example.com", "viewer")


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """Open the sign-in page and post its form; the client keeps the cookies."""
    form = await client.get("/dashboard/sign-in")
    assert form.status_code == 200
    return await client.post(
        "/dashboard/sign-in",
        data={"csrf_token": csrf_of(form.text), "email": email, "password": password},
    )


async def signed_in(client: httpx.AsyncClient, user: User) -> str:
    """Sign `user` in; the CSRF token of the session's forms."""
    answer = await sign_in(client, user.email, user.password)
    assert answer.status_code == 303, answer.text
    page = await client.get("/dashboard/test/account")
    assert page.status_code == 200
    return csrf_of(page.text)
