"""Signing in to the dashboard over HTTP, on SQLite and PostgreSQL: passwords, rate limits, CSRF,
roles, sessions, one-time links."""

from __future__ import annotations

from lava_server.dashboard import users
from lava_server.settings import Settings
from tests.dashboard.conftest import PASSWORD, csrf_of, sign_in, signed_in


async def test_root_leads_to_the_dashboard_and_pages_need_a_session(client):
    root = await client.get("/")
    assert root.status_code == 307
    assert root.headers["location"] == "/dashboard/"
    home = await client.get("/dashboard/")
    assert home.headers["location"] == "/dashboard/test/"
    page = await client.get("/dashboard/test/")
    assert page.status_code == 303
    assert page.headers["location"] == "/dashboard/sign-in?next=/dashboard/test/"


async def test_sign_in_sets_a_secure_session_cookie_and_shows_the_overview(client, admin):
    answer = await sign_in(client, admin.email, PASSWORD)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/test/"
    cookie = next(
        value
        for name, value in answer.headers.multi_items()
        if name == "set-cookie" and value.startswith("lava_dashboard=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain http here
    overview = await client.get("/dashboard/test/")
    assert overview.status_code == 200
    assert "Overview" in overview.text
    assert 'id="test-mode"' in overview.text  # sandbox pages carry the test-mode marker
    assert "default-src 'none'" in overview.headers["content-security-policy"]
    live = await client.get("/dashboard/live/")
    assert live.status_code == 200
    assert 'id="test-mode"' not in live.text
    assert "Live mode is not configured on this server" in live.text  # as lava serve says
    assert "Live mode is not configured" not in overview.text


async def test_the_cookie_is_secure_over_https(settings, db, admin):
    import httpx

    from lava_server.app import create_app

    transport = httpx.ASGITransport(app=create_app(settings, db))
    async with httpx.AsyncClient(transport=transport, base_url="https://lava.test") as https:
        answer = await sign_in(https, admin.email, PASSWORD)
    cookie = answer.headers["set-cookie"]
    assert "lava_dashboard=" in cookie
    assert "Secure" in cookie


async def test_a_wrong_password_or_an_unknown_email_is_refused_alike(client, admin):
    wrong = await sign_in(client, admin.email, "not the password at all")
    unknown = await sign_in(client, "nobody@example.com", PASSWORD)
    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert "Wrong email or password." in answer.text
        assert "lava_dashboard=" not in answer.headers.get("set-cookie", "")
    assert (await client.get("/dashboard/test/")).status_code == 303


async def test_sign_in_is_rate_limited_per_account(client, admin, settings):
    # The limit counts per minute of the clock: all the sign-ins fall in the same minute,
    # however slowly a busy machine hashes the passwords (one straddled two minutes once).
    app = client._transport.app  # type: ignore[attr-defined]
    app.state.dashboard.failures_per_account.clock = lambda: 1_800_000_030.0
    limit = settings.dashboard_sign_in_failures_per_minute
    for _ in range(limit):
        assert (await sign_in(client, admin.email, "wrong password here")).status_code == 401
    limited = await sign_in(client, admin.email, PASSWORD)  # even the right password now
    assert limited.status_code == 429
    assert "Too many failed sign-ins" in limited.text


async def test_sign_in_is_rate_limited_per_address(settings, db, merchant):
    import httpx

    from lava_server.app import create_app

    few = Settings(
        database_url=settings.database_url,
        dashboard_sign_in_failures_per_ip_per_minute=3,
        dashboard_sign_in_failures_per_minute=100,
    )
    await users.create_user(db, few, "ana@example.com", merchant.merchant_id, "admin", PASSWORD)
    app = create_app(few, db)
    # The limit counts per minute of the clock: all four sign-ins fall in the same minute,
    # however slowly a busy machine hashes the passwords.
    app.state.dashboard.failures_per_address.clock = lambda: 1_800_000_030.0
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lava.test") as http:
        for n in range(3):  # three accounts, one address
            assert (await sign_in(http, f"guess{n}@example.com", "x" * 12)).status_code == 401
        assert (await sign_in(http, "ana@example.com", PASSWORD)).status_code == 429


async def test_a_sign_in_form_without_its_token_is_refused(client, admin):
    await client.get("/dashboard/sign-in")  # the token cookie is set, the form not sent
    forged = await client.post(
        "/dashboard/sign-in", data={"email": admin.email, "password": PASSWORD}
    )
    assert forged.status_code == 403
    assert "lava_dashboard=" not in forged.headers.get("set-cookie", "")


async def test_a_forged_form_without_the_session_token_is_refused_and_changes_nothing(
    client, admin, db
):
    csrf = await signed_in(client, admin)
    new_password = "another long password"
    forged = await client.post(
        "/dashboard/test/account/password",
        data={"password": new_password, "password_again": new_password},
    )
    assert forged.status_code == 403
    wrong = await client.post(
        "/dashboard/test/account/password",
        data={"csrf_token": csrf + "x", "password": new_password, "password_again": new_password},
    )
    assert wrong.status_code == 403
    user = await users.find_user(db, admin.email)
    assert users.password_matches(user.password_hash, PASSWORD)
    assert not users.password_matches(user.password_hash, new_password)


async def test_sign_out_ends_the_session(client, admin):
    csrf = await signed_in(client, admin)
    out = await client.post("/dashboard/sign-out", data={"csrf_token": csrf})
    assert out.status_code == 303
    assert (await client.get("/dashboard/test/")).status_code == 303


async def test_sign_out_everywhere_ends_every_session(settings, db, admin):
    import httpx

    from lava_server.app import create_app

    app = create_app(settings, db)
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://lava.test")
        for _ in range(2)
    ]
    try:
        laptop, phone = clients
        csrf = await signed_in(laptop, admin)
        await signed_in(phone, admin)
        assert (await phone.get("/dashboard/test/")).status_code == 200
        out = await laptop.post("/dashboard/sign-out-everywhere", data={"csrf_token": csrf})
        assert out.status_code == 303
        assert (await phone.get("/dashboard/test/")).status_code == 303
        assert (await laptop.get("/dashboard/test/")).status_code == 303
    finally:
        for each in clients:
            await each.aclose()


async def test_a_one_time_link_signs_in_once(client, db, settings, merchant):
    _, token = await users.create_user(db, settings, "new@example.com", merchant.merchant_id)
    assert token is not None
    path = f"/dashboard/sign-in/link/{token}"
    opened = await client.get(path)  # opening it (a prefetch, a mail scanner) uses nothing
    assert opened.status_code == 200
    assert (await client.get(path)).status_code == 200
    used = await client.post(path, data={"csrf_token": csrf_of(opened.text)})
    assert used.status_code == 303
    assert used.headers["location"] == "/dashboard/test/account?welcome=1"
    account = await client.get("/dashboard/test/account?welcome=1")
    assert "Set a password" in account.text
    client.cookies.delete("lava_dashboard", path="/dashboard")
    again_page = await client.get(path)
    again = await client.post(path, data={"csrf_token": csrf_of(again_page.text)})
    assert again.status_code == 410
    assert "used already or has expired" in again.text


async def test_an_expired_link_is_refused(client, db, merchant):
    from lava_server import timeutil

    short = Settings(dashboard_link_minutes=1)
    _, token = await users.create_user(db, short, "late@example.com", merchant.merchant_id)
    real = timeutil.clock
    later = real() + __import__("datetime").timedelta(minutes=2)
    timeutil.clock = lambda: later
    try:
        path = f"/dashboard/sign-in/link/{token}"
        opened = await client.get(path)
        answer = await client.post(path, data={"csrf_token": csrf_of(opened.text)})
        assert answer.status_code == 410
    finally:
        timeutil.clock = real


async def test_a_new_password_signs_the_other_sessions_out(settings, db, admin):
    import httpx

    from lava_server.app import create_app

    app = create_app(settings, db)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as one,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as two,
    ):
        csrf = await signed_in(one, admin)
        await signed_in(two, admin)
        new = "a brand new password"
        short = await one.post(
            "/dashboard/test/account/password",
            data={"csrf_token": csrf, "password": "short", "password_again": "short"},
        )
        assert short.status_code == 400
        assert "12 to 1024 characters" in short.text
        saved = await one.post(
            "/dashboard/test/account/password",
            data={"csrf_token": csrf, "password": new, "password_again": new},
        )
        assert saved.status_code == 303
        assert (await one.get("/dashboard/test/")).status_code == 200
        assert (await two.get("/dashboard/test/")).status_code == 303
    assert (await sign_in_fresh(settings, db, admin.email, new)).status_code == 303


async def sign_in_fresh(settings, db, email, password):
    import httpx

    from lava_server.app import create_app

    transport = httpx.ASGITransport(app=create_app(settings, db))
    async with httpx.AsyncClient(transport=transport, base_url="http://lava.test") as http:
        return await sign_in(http, email, password)


async def test_an_unknown_mode_is_not_found(client, admin):
    await signed_in(client, admin)
    assert (await client.get("/dashboard/staging/")).status_code == 404


async def test_next_never_leads_off_the_dashboard(client, admin):
    form = await client.get("/dashboard/sign-in?next=//evil.example/")
    answer = await client.post(
        "/dashboard/sign-in",
        data={
            "csrf_token": csrf_of(form.text),
            "email": admin.email,
            "password": PASSWORD,
            "next": "//evil.example/",
        },
    )
    assert answer.headers["location"] == "/dashboard/test/"


async def test_lava_users_commands(database_url, merchant, client):
    import asyncio
    import json

    from typer.testing import CliRunner

    from lava_server.cli import app

    def run(*args: str, stdin: str | None = None) -> dict:
        result = CliRunner().invoke(app, [*args, "--database-url", database_url], input=stdin)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout.strip().splitlines()[-1])

    made = await asyncio.to_thread(
        run,
        "users",
        "create",
        "Viv@Example.com",
        "--merchant",
        merchant.merchant_id,
        "--role",
        "viewer",
        "--json",
    )
    assert made["email"] == "viv@example.com"
    assert made["role"] == "viewer"
    path = made["link"].removeprefix("http://127.0.0.1:8787")
    assert path.startswith("/dashboard/sign-in/link/")
    opened = await client.get(path)
    assert (await client.post(path, data={"csrf_token": csrf_of(opened.text)})).status_code == 303
    assert (await client.get("/dashboard/test/")).status_code == 200

    password = "a password typed twice"
    reset = await asyncio.to_thread(
        run,
        "users",
        "reset-password",
        "viv@example.com",
        "--password",
        "--json",
        stdin=f"{password}\n{password}\n",
    )
    assert reset["link"] is None
    assert (await client.get("/dashboard/test/")).status_code == 303  # signed out everywhere
    assert (await sign_in(client, "viv@example.com", password)).status_code == 303

    again = await asyncio.to_thread(run, "users", "reset-password", "viv@example.com", "--json")
    assert again["link"].startswith("http://127.0.0.1:8787/dashboard/sign-in/link/")
    assert (await client.get("/dashboard/test/")).status_code == 303

    duplicate = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        [
            "users",
            "create",
            "viv@example.com",
            "--merchant",
            merchant.merchant_id,
            "--database-url",
            database_url,
        ],
    )
    assert duplicate.exit_code == 1
    assert "exists already" in duplicate.output


async def test_the_first_start_creates_the_owner_and_a_one_time_link(settings, client):
    from lava_server import cli

    new_key, link, has_users = await cli._bootstrap(settings)
    assert new_key is not None
    assert has_users
    assert link.startswith(settings.public_base + "dashboard/sign-in/link/")
    path = "/" + link.removeprefix(settings.public_base)
    opened = await client.get(path)
    assert (await client.post(path, data={"csrf_token": csrf_of(opened.text)})).status_code == 303
    account = await client.get("/dashboard/test/account")
    assert users.OWNER_EMAIL in account.text
    assert "admin" in account.text
    assert await cli._bootstrap(settings) == (None, None, True)  # the next start: nothing new
