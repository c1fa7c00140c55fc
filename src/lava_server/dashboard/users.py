"""Dashboard users: passwords (Argon2id, argon2-cffi), one-time sign-in links, sessions.

A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, with the
CSRF token that every form of the session sends back. A sign-in link carries a token that works
once, until `dashboard_link_minutes` after it was made; a new link replaces the previous one.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.dashboard import repository
from lava_server.db.engine import Database
from lava_server.db.models import DashboardSession, DashboardUser, Merchant
from lava_server.errors import Conflict, InvalidRequest, NotFound
from lava_server.ids import new_id
from lava_server.merchants import repository as merchants
from lava_server.settings import Settings
from lava_server.timeutil import utcnow

ROLES = ("admin", "viewer")
ADMIN, VIEWER = ROLES
OWNER_EMAIL = "owner@localhost"
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
LINK_PATH = "dashboard/sign-in/link/"
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}")
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so that an unknown email takes as long as a
    wrong password (nothing tells which emails have accounts). Made at first use, not at import:
    every process that imports this module (each `lava` command) would pay its 0.1 s."""
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SignedIn:
    """A session just made: the cookie's token (shown to the browser only) and the row."""

    token: str
    row: DashboardSession


@dataclass(frozen=True)
class Visitor:
    """Who a valid session cookie belongs to."""

    session: DashboardSession
    user: DashboardUser
    merchant: Merchant

    @property
    def is_admin(self) -> bool:
        return self.user.role == ADMIN


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normal_email(email: str) -> str:
    text = email.strip().lower()
    if not _EMAIL.fullmatch(text):
        raise InvalidRequest("email must be an email address, e.g. ana@example.com.", param="email")
    return text


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidRequest(
            f"The password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long.",
            param="password",
        )
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


async def _hash_off_loop(password: str) -> str:
    """Argon2 takes tens of milliseconds of CPU on purpose: off the event loop, so that the
    API's requests do not wait for it."""
    check_password(password)
    return await asyncio.to_thread(hash_password, password)


def password_matches(password_hash: str | None, password: str) -> bool:
    try:
        matches = _hasher.verify(password_hash or _dummy_hash(), password)
        return matches and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def link_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base}{LINK_PATH}{token}"


async def _new_link(session: AsyncSession, settings: Settings, user_id: str, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(minutes=settings.dashboard_link_minutes)
    await repository.set_sign_in_token(session, user_id, digest(token), expires, now)
    return token


async def create_user(
    db: Database,
    settings: Settings,
    email: str,
    merchant_id: str,
    role: str = ADMIN,
    password: str | None = None,
) -> tuple[DashboardUser, str | None]:
    """A new user of `merchant_id`; with no password, a one-time sign-in link's token (the user
    sets a password once signed in)."""
    address = normal_email(email)
    if role not in ROLES:
        raise InvalidRequest("role must be admin or viewer.", param="role")
    password_hash = None if password is None else await _hash_off_loop(password)
    now = utcnow()
    async with db.write() as session:
        if await merchants.get_merchant(session, merchant_id) is None:
            raise NotFound(f"No merchant {merchant_id}.", param="merchant")
        if await repository.user_by_email(session, address) is not None:
            raise Conflict(f"A dashboard user {address} exists already.", param="email")
        user = DashboardUser(
            id=new_id("usr", True),
            merchant_id=merchant_id,
            email=address,
            password_hash=password_hash,
            role=role,
            created_at=now,
            updated_at=now,
        )
        await repository.add_user(session, user)
        token = None if password is not None else await _new_link(session, settings, user.id, now)
    return user, token


async def create_owner(db: Database, settings: Settings, merchant_id: str) -> str:
    """`lava serve`'s first start: the first merchant's owner (an admin) and a sign-in link."""
    _, token = await create_user(db, settings, OWNER_EMAIL, merchant_id, ADMIN)
    assert token is not None
    return token


async def any_user(db: Database) -> bool:
    async with db.read() as session:
        return await repository.has_any_user(session)


async def reset_password(
    db: Database, settings: Settings, email: str, password: str | None = None
) -> str | None:
    """Set a new password (or, without one, clear it and make a sign-in link, whose token is
    returned); either way every session of the user ends."""
    address = normal_email(email)
    password_hash = None if password is None else await _hash_off_loop(password)
    now = utcnow()
    async with db.write() as session:
        user = await repository.user_by_email(session, address)
        if user is None:
            raise NotFound(f"No dashboard user {address}.", param="email")
        await repository.delete_sessions_of(session, user.id)
        if password_hash is not None:
            await repository.set_password_hash(session, user.id, password_hash, now)
            return None
        return await _new_link(session, settings, user.id, now)


async def set_password(db: Database, user_id: str, password: str, keep_session: str) -> None:
    """A signed-in user's new password; every other session of the user ends."""
    password_hash = await _hash_off_loop(password)
    now = utcnow()
    async with db.write() as session:
        await repository.set_password_hash(session, user_id, password_hash, now)
        await repository.delete_sessions_of(session, user_id, keep=keep_session)


async def _start_session(db: Database, settings: Settings, user_id: str) -> SignedIn:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = DashboardSession(
        id=digest(token),
        user_id=user_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(hours=settings.dashboard_session_hours),
    )
    async with db.write() as session:
        await repository.delete_expired_sessions(session, now)
        await repository.add_session(session, row)
    return SignedIn(token, row)


async def sign_in(db: Database, settings: Settings, email: str, password: str) -> SignedIn | None:
    """A new session when the password is the user's; None otherwise (unknown email or wrong
    password, told apart by nothing)."""
    try:
        address = normal_email(email)
    except InvalidRequest:
        address = ""
    async with db.read() as session:
        user = await repository.user_by_email(session, address) if address else None
    stored = None if user is None else user.password_hash
    if not await asyncio.to_thread(password_matches, stored, password[:MAX_PASSWORD]):
        return None
    assert user is not None
    return await _start_session(db, settings, user.id)


async def use_link(db: Database, settings: Settings, token: str) -> SignedIn | None:
    """Sign in with a one-time link's token; None when it was used, replaced or has expired."""
    now = utcnow()
    async with db.write() as session:
        user_id = await repository.take_sign_in_token(session, digest(token), now)
    if user_id is None:
        return None
    return await _start_session(db, settings, user_id)


async def visitor(db: Database, token: str) -> Visitor | None:
    async with db.read() as session:
        found = await repository.session_with_user(session, digest(token), utcnow())
    return None if found is None else Visitor(*found)


async def sign_out(db: Database, session_id: str) -> None:
    async with db.write() as session:
        await repository.delete_session(session, session_id)


async def sign_out_everywhere(db: Database, user_id: str) -> int:
    async with db.write() as session:
        return await repository.delete_sessions_of(session, user_id)


async def find_user(db: Database, email: str) -> DashboardUser | None:
    async with db.read() as session:
        return await repository.user_by_email(session, normal_email(email))
