"""The `lava` command: serve the API, manage merchants, keys and products, run the fakes."""

from __future__ import annotations

import asyncio
import json
import logging
import logging.config
import os
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text
from typer.core import TyperGroup

from lava_server import logs, startup
from lava_server.api.auth import Caller
from lava_server.dashboard import users as dashboard_users
from lava_server.db import backup as backups
from lava_server.db.engine import Database, describe_url
from lava_server.errors import ApiError, field_path
from lava_server.merchants import service as merchants
from lava_server.metering import repository as metering_repository
from lava_server.metrics import MULTIPROC_DIR
from lava_server.model_prices import service as model_prices
from lava_server.money_ops import service as money_ops
from lava_server.money_ops.schemas import AdjustmentCreate, CreditCreate, RefundCreate
from lava_server.payments import doctor, live
from lava_server.payments.context import Billing
from lava_server.products import service as products
from lava_server.products.schemas import ProductCreate, RestProduct
from lava_server.settings import Settings
from lava_server.spend_keys import service as spend_keys
from lava_server.spend_keys.schemas import RestSpendKey, SpendKeyCreate
from lava_server.timeutil import iso, iso_or_none, utcnow
from lava_server.wallets import service as wallets
from lava_server.webhooks import service as webhooks
from lava_server.webhooks.schemas import WebhookCreate

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class _Commands(TyperGroup):
    """Every command runs through here: a reason it cannot start is printed in its one or two
    lines (what is wrong, how to fix it) with exit status 2, instead of a traceback."""

    def invoke(self, ctx: Any) -> Any:  # a typer.Context, typed by typer's own copy of click
        try:
            return super().invoke(ctx)
        except startup.StartupError as error:
            err_console.print(Text(str(error), style="red"), soft_wrap=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Commands,
    help="Self-hosted Lava: usage-based billing for AI products.",
    no_args_is_help=True,
)
merchants_app = typer.Typer(help="Create merchants.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke merchant secret keys.", no_args_is_help=True)
products_app = typer.Typer(help="Create and list pricing products.", no_args_is_help=True)
app.add_typer(merchants_app, name="merchants")
app.add_typer(keys_app, name="keys")
app.add_typer(products_app, name="products")
ledger_app = typer.Typer(help="Check the ledger.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
prices_app = typer.Typer(
    help="The provider prices of models: list them, add and remove the operator's.",
    no_args_is_help=True,
)
app.add_typer(prices_app, name="prices")
webhooks_app = typer.Typer(
    help="List and create webhook endpoints; see and resend their deliveries.",
    no_args_is_help=True,
)
app.add_typer(webhooks_app, name="webhooks")
spend_keys_app = typer.Typer(
    help="Create, list, revoke and rotate a merchant's spend keys (lava_sk_...).",
    no_args_is_help=True,
)
app.add_typer(spend_keys_app, name="spend-keys")
credits_app = typer.Typer(help="Grant credit paid by the merchant.", no_args_is_help=True)
app.add_typer(credits_app, name="credits")
refunds_app = typer.Typer(
    help="Refund top-up payments through the provider that took them.", no_args_is_help=True
)
app.add_typer(refunds_app, name="refunds")
payments_app = typer.Typer(help="List payments with their refunds.", no_args_is_help=True)
app.add_typer(payments_app, name="payments")
users_app = typer.Typer(
    help="Create dashboard users and reset their passwords (the dashboard is at /dashboard/).",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")

console = Console()
err_console = Console(stderr=True)

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Database URL (else LAVA_DATABASE_URL, else sqlite:///./lava.db).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
LiveOption = Annotated[bool, typer.Option("--live", help="Live mode (default: sandbox).")]


def _settings(database_url: str | None, *, serving: bool = False, **overrides: Any) -> Settings:
    """The settings, after a warning for each `LAVA_*` variable that nothing reads (`serving`:
    a per-provider variable of an unknown provider stops the command instead)."""
    unknown = startup.unknown_variables(os.environ)
    if serving:
        startup.refuse_unknown_providers(unknown)
    for variable in unknown:
        err_console.print(Text(f"Warning: {variable.describe()}", style="yellow"), soft_wrap=True)
    values = {key: value for key, value in overrides.items() if value is not None}
    if database_url:
        values["database_url"] = database_url
    settings = startup.load_settings(**values)
    if serving:
        startup.check_forward_proxy(settings)
    return settings


def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Migrate, then run `work` against the database."""
    startup.open_database(settings.database_url)

    async def run() -> T:
        db = Database(settings.database_url, pool_size=2)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except ApiError as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [default: 127.0.0.1].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: 8787].")] = None,
    database_url: DatabaseUrlOption = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes (PostgreSQL; SQLite serves from one).")
    ] = 1,
) -> None:
    """Migrate the database and serve the API until Ctrl-C or SIGTERM."""
    import uvicorn

    settings = _settings(database_url, serving=True, host=host, port=port)
    log_config = logs.config(settings.log_level, settings.log_format)
    logging.config.dictConfig(log_config)
    if workers > 1 and settings.database_url.startswith("sqlite"):
        err_console.print(
            "[yellow]SQLite takes one writer at a time: several processes would only wait for "
            "each other. Serving from one process; use PostgreSQL to scale out.[/yellow]"
        )
        workers = 1
    startup.check_port(settings.host, settings.port, ("--host or LAVA_HOST", "--port or LAVA_PORT"))
    startup.open_database(settings.database_url)
    new_key, owner_link, has_users = asyncio.run(_bootstrap(settings))
    console.print(f"Database: {describe_url(settings.database_url)}")
    if new_key is not None:
        console.print("[bold]First start: created a sandbox merchant[/bold]", new_key.merchant_id)
        console.print(
            f"Secret key (shown once): {new_key.secret_key}  "
            f"(another: lava keys create --merchant {new_key.merchant_id})",
            soft_wrap=True,
        )
        console.print("Base URL for clients:   ", settings.base_url, soft_wrap=True)
    if owner_link is not None:
        console.print(
            f"Dashboard sign-in link for {dashboard_users.OWNER_EMAIL} (works once, for "
            f"{settings.dashboard_link_minutes} minutes): {owner_link}",
            soft_wrap=True,
        )
    elif not has_users:
        console.print(
            "No dashboard user yet: lava users create EMAIL --merchant MER prints a sign-in link.",
            soft_wrap=True,
        )
    console.print(f"Lava API on {settings.base_url}  (docs: {settings.public_base}docs)")
    missing = live.missing(*live.configured(settings))
    if missing:
        console.print(f"[yellow]{live.describe(missing)}[/yellow]", soft_wrap=True)
    os.environ["LAVA_DATABASE_URL"] = settings.database_url
    os.environ["LAVA_HOST"] = settings.host
    os.environ["LAVA_PORT"] = str(settings.port)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler
    # that was there before it: make that an ordinary, successful exit.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_cleanly)
    # Several processes share their metrics through files in a directory of their own
    # (`lava_server.metrics`), made before they start and removed when they have stopped.
    shared_metrics = tempfile.mkdtemp(prefix="lava-metrics-") if workers > 1 else None
    if shared_metrics is not None:
        os.environ[MULTIPROC_DIR] = shared_metrics
    try:
        uvicorn.run(
            "lava_server.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level=settings.log_level.lower(),
            access_log=False,  # the app logs requests itself, without their paths (`logs`)
            log_config=log_config,
            timeout_graceful_shutdown=10,
        )
    finally:
        if shared_metrics is not None:
            shutil.rmtree(shared_metrics, ignore_errors=True)


@app.command("doctor")
def doctor_command(as_json: JsonOption = False) -> None:
    """Print each mode's configuration and check it (Stripe's keys are tried against
    LAVA_STRIPE_API_BASE); exit status 1 when live mode is not ready."""
    settings = _settings(None)
    checks = asyncio.run(doctor.run(settings))
    ready = all(check.ok is not False for check in checks)
    if as_json:
        rows = [{"mode": c.mode, "check": c.what, "ok": c.ok, "detail": c.detail} for c in checks]
        print(json.dumps({"live_ready": ready, "checks": rows}))
    else:
        marks = {True: "[green]ok[/green]", False: "[red]FAIL[/red]", None: "[dim]--[/dim]"}
        for check in checks:
            console.print(
                f"{check.mode:8} {marks[check.ok]:>4}  {check.what}: {check.detail}",
                soft_wrap=True,
                highlight=False,
            )
        missing = live.missing(*live.configured(settings))
        console.print(live.describe(missing) if missing else "Live mode is ready.", soft_wrap=True)
    if not ready:
        raise typer.Exit(1)


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


async def _bootstrap(settings: Settings) -> tuple[merchants.NewKey | None, str | None, bool]:
    """On an empty database: the sandbox merchant, its owner (a dashboard admin) and the owner's
    one-time sign-in link. Also: whether any dashboard user exists."""
    db = Database(settings.database_url, pool_size=1)
    try:
        new_key = await merchants.bootstrap(db)
        link = None
        if new_key is not None:
            token = await dashboard_users.create_owner(db, settings, new_key.merchant_id)
            link = dashboard_users.link_url(settings, token)
        return new_key, link, await dashboard_users.any_user(db)
    finally:
        await db.dispose()


@merchants_app.command("create")
def merchants_create(
    name: str,
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create a merchant and print its first secret key (shown once)."""
    settings = _settings(database_url)
    key = _with_database(settings, lambda db: merchants.create_merchant(db, name, livemode=live))
    if as_json:
        print(json.dumps({"merchant_id": key.merchant_id, "secret_key": key.secret_key}))
    else:
        console.print(f"Merchant {key.merchant_id}\nSecret key (shown once): {key.secret_key}")


@keys_app.command("create")
def keys_create(
    merchant: Annotated[str, typer.Option("--merchant", help="Merchant id (mer_...).")],
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create another secret key for a merchant (shown once)."""
    settings = _settings(database_url)
    key = _with_database(settings, lambda db: merchants.create_key(db, merchant, livemode=live))
    if as_json:
        print(
            json.dumps(
                {"key_id": key.key_id, "merchant_id": key.merchant_id, "secret_key": key.secret_key}
            )
        )
    else:
        console.print(f"Key {key.key_id}\nSecret key (shown once): {key.secret_key}")


@keys_app.command("list")
def keys_list(
    merchant: Annotated[
        str | None, typer.Option("--merchant", help="Only this merchant's keys.")
    ] = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """List keys (their ids and last four characters; secrets are never stored)."""
    settings = _settings(database_url)
    keys = _with_database(settings, lambda db: merchants.list_keys(db, merchant))
    rows = [
        {
            "key_id": key.id,
            "merchant_id": key.merchant_id,
            "mode": "live" if key.livemode else "test",
            "ends_with": key.hint,
            "created_at": iso(key.created_at),
            "revoked_at": iso_or_none(key.revoked_at),
        }
        for key in keys
    ]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("key", "merchant", "mode", "ends with", "created", "revoked")
    for row in rows:
        table.add_row(*(str(value or "") for value in row.values()))
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, database_url: DatabaseUrlOption = None) -> None:
    """Revoke a key: it is refused from the next request on."""
    settings = _settings(database_url)
    _with_database(settings, lambda db: merchants.revoke_key(db, key_id))
    console.print(f"Revoked {key_id}")


@products_app.command("create")
def products_create(
    name: str,
    merchant: Annotated[str, typer.Option("--merchant", help="Merchant id (mer_...).")],
    tier: Annotated[
        list[str],
        typer.Option(
            "--tier", help="START:RATE:TYPE, e.g. 0:2:tokens_1m; repeat for graduated tiers."
        ),
    ],
    rate_type: Annotated[str, typer.Option(help="fixed or percentage.")] = "fixed",
    token_basis: Annotated[str, typer.Option(help="input+output or output.")] = "input+output",
    base_cost_payer: Annotated[str, typer.Option(help="wallet or merchant.")] = "wallet",
    service_charge_payer: Annotated[str, typer.Option(help="wallet or merchant.")] = "wallet",
    overdraft: Annotated[str, typer.Option(help="block or allow.")] = "block",
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create a pricing product and print its id and secret."""
    tiers: list[dict[str, Any]] = []
    for index, spec in enumerate(tier):
        parts = spec.split(":")
        if len(parts) != 3 or not parts[0].isdigit():
            err_console.print(
                f"[red]--tier {spec!r}: expected START:RATE:TYPE (tiers[{index}])[/red]"
            )
            raise typer.Exit(2)
        tiers.append({"start": int(parts[0]), "rate": parts[1], "type": parts[2]})
    try:
        params = ProductCreate(
            name=name,
            rate_type=rate_type,
            token_basis=token_basis,
            tiers=tiers,
            base_cost_payer=base_cost_payer,
            service_charge_payer=service_charge_payer,
            overdraft=overdraft,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        err_console.print(f"[red]{field_path(first['loc'])}: {first['msg']}[/red]")
        raise typer.Exit(2) from exc
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")

    async def work(db: Database) -> RestProduct:
        await merchants.require_merchant(db, merchant)
        return products.render(await products.create(db, caller, params))

    product = _with_database(settings, work)
    if as_json:
        print(json.dumps(product))
    else:
        console.print(
            f"Product {product['product_id']}\nProduct secret: {product['product_secret']}"
        )


@products_app.command("list")
def products_list(
    merchant: Annotated[str, typer.Option("--merchant", help="Merchant id (mer_...).")],
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """List a merchant's products, newest first."""
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")

    async def work(db: Database) -> list[RestProduct]:
        found: list[RestProduct] = []
        cursor: str | None = None
        while True:
            rows = await products.list_page(db, caller, cursor, 100)
            found.extend(products.render(row) for row in rows[:100])
            if len(rows) <= 100:
                return found
            cursor = rows[99].id

    rows = _with_database(settings, work)
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("product", "name", "rate type", "tiers", "overdraft")
    for row in rows:
        tiers_text = ", ".join(f"{t['start']}:{t['rate']}:{t['type']}" for t in row["tiers"])
        table.add_row(
            row["product_id"], row["name"], row["rate_type"], tiers_text, row["overdraft"]
        )
    console.print(table)


@ledger_app.command("check")
def ledger_check(as_json: JsonOption = False, database_url: DatabaseUrlOption = None) -> None:
    """Recompute every wallet balance from the ledger; exit 1 on any difference."""
    settings = _settings(database_url)
    report = _with_database(settings, wallets.check)
    if as_json:
        print(
            json.dumps(
                {
                    "wallets": report.wallets,
                    "entries": report.entries,
                    "problems": [problem.describe() for problem in report.problems],
                }
            )
        )
    else:
        for problem in report.problems:
            err_console.print(f"[red]{problem.describe()}[/red]")
        verdict = "clean" if not report.problems else f"{len(report.problems)} problem(s)"
        console.print(f"Ledger: {report.entries} entries, {report.wallets} wallets: {verdict}")
    if report.problems:
        raise typer.Exit(1)


ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists.")]


@app.command("backup")
def backup_command(
    path: Annotated[Path, typer.Argument(help="Where to write the backup (a new file).")],
    force: ForceOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Back up the database while it serves: SQLite through its online backup API; PostgreSQL
    through pg_dump (custom format) when it is installed, else the command to run."""
    settings = _settings(database_url)
    try:
        source = backups.sqlite_path(settings.database_url)
        if source is None:
            command = backups.pg_dump(settings.database_url, path, force=force)
            console.print(f"Backed up {describe_url(settings.database_url)} to {path} with:")
            console.print(f"  {command}", soft_wrap=True, highlight=False)
            console.print(f"Restore it with: pg_restore --clean --if-exists --dbname URL {path}")
            return
        copied = backups.backup_sqlite(source, path, force=force)
    except backups.BackupError as error:
        err_console.print(f"[red]{error}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps({"path": str(copied.path), "bytes": copied.bytes, "rows": copied.tables}))
        return
    console.print(
        f"Backed up {source} to {copied.path} ({copied.bytes:,} bytes): {_rows(copied.tables)}",
        soft_wrap=True,
        highlight=False,
    )


def _rows(tables: dict[str, int]) -> str:
    shown = ("merchants", "wallets", "requests", "ledger_entries", "payments")
    return ", ".join(f"{tables[name]:,} {name}" for name in shown if name in tables)


@app.command("restore")
def restore_command(
    path: Annotated[Path, typer.Argument(help="The backup file (`lava backup`).")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Overwrite the database even though it exists (stop lava serve first)."
        ),
    ] = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Restore a SQLite backup to the database (a new path, or an existing one with --force),
    then run `lava ledger check` on it. PostgreSQL: prints the pg_restore command."""
    settings = _settings(database_url)
    try:
        target = backups.sqlite_path(settings.database_url)
        if target is None:
            raise backups.BackupError(
                "Restore PostgreSQL with its own tool, lava serve stopped: pg_restore --clean "
                f"--if-exists --no-owner --dbname {describe_url(settings.database_url)} {path}; "
                "then run lava ledger check."
            )
        if target.exists():
            live = _live_processes(settings)
            serving = (
                f" {live} lava serve process(es) used it in the last "
                f"{_live_seconds(settings):.0f} s."
                if live
                else ""
            )
            if not force:
                raise backups.BackupError(
                    f"{target} exists.{serving} Restore to a new path (--database-url "
                    "sqlite:///restored.db), or stop lava serve and use --force to overwrite it."
                )
            if live:
                err_console.print(f"[yellow]Overwriting a database in use:{serving}[/yellow]")
        copied = backups.restore_sqlite(path, target)
    except backups.BackupError as error:
        err_console.print(f"[red]{error}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    report = _with_database(settings, wallets.check)
    if as_json:
        print(
            json.dumps(
                {
                    "path": str(copied.path),
                    "rows": copied.tables,
                    "ledger": {
                        "wallets": report.wallets,
                        "entries": report.entries,
                        "problems": [problem.describe() for problem in report.problems],
                    },
                }
            )
        )
    else:
        console.print(f"Restored {path} to {target}: {_rows(copied.tables)}", soft_wrap=True)
        for problem in report.problems:
            err_console.print(f"[red]{problem.describe()}[/red]")
        verdict = "clean" if not report.problems else f"{len(report.problems)} problem(s)"
        console.print(f"Ledger: {report.entries} entries, {report.wallets} wallets: {verdict}")
    if report.problems:
        raise typer.Exit(1)


def _live_seconds(settings: Settings) -> float:
    return 3 * settings.process_heartbeat_seconds


def _live_processes(settings: Settings) -> int:
    """`lava serve` processes that said they were alive lately (0 when it cannot be read)."""

    async def count() -> int:
        db = Database(settings.database_url, pool_size=1)
        try:
            since = utcnow() - timedelta(seconds=_live_seconds(settings))
            async with db.read() as session:
                return await metering_repository.processes_seen_since(session, since)
        except Exception:
            return 0
        finally:
            await db.dispose()

    return asyncio.run(count())


def _price(help_text: str) -> Any:
    return typer.Option(help=help_text, show_default=False)


PerMillionTokens = Annotated[str | None, _price("$ per million tokens.")]
PerMillionCharacters = Annotated[str | None, _price("$ per million characters.")]
PerHour = Annotated[str | None, _price("$ per hour of audio.")]
ProviderArgument = Annotated[
    str, typer.Argument(help="Provider (openai, deepinfra, googleOpenaiCompatible...), or '*'.")
]
ModelArgument = Annotated[
    str,
    typer.Argument(help="The model as the provider's API names it; a trailing '*': a prefix."),
]


def _provider_names() -> list[str]:
    from lava_server.proxy.upstream import DEFAULT_REGISTRY

    return [provider.name for provider in DEFAULT_REGISTRY]


@prices_app.command("add")
def prices_add(
    provider: ProviderArgument,
    model: ModelArgument,
    input_mtok: PerMillionTokens = None,
    output_mtok: PerMillionTokens = None,
    cache_read_mtok: Annotated[
        str | None, _price("$ per million cached input tokens read (default: --input-mtok).")
    ] = None,
    cache_write_mtok: Annotated[
        str | None, _price("$ per million input tokens written to the cache (5 minutes).")
    ] = None,
    cache_write_1h_mtok: Annotated[
        str | None, _price("$ per million input tokens written to the cache for 1 hour.")
    ] = None,
    input_audio_mtok: PerMillionTokens = None,
    output_audio_mtok: PerMillionTokens = None,
    input_mchars: PerMillionCharacters = None,
    output_mchars: PerMillionCharacters = None,
    input_audio_hours: PerHour = None,
    output_audio_hours: PerHour = None,
    context_window: Annotated[int | None, typer.Option(min=1, help="Tokens.")] = None,
    max_output_tokens: Annotated[
        int | None, typer.Option(min=1, help="Tokens; the output ceiling of holds.")
    ] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Add the price of a model, or replace the one added before. It replaces the price
    library's and the price file's for that model, and every server uses it within
    LAVA_MODEL_PRICES_REFRESH_SECONDS."""
    given = {
        "input_mtok": input_mtok,
        "output_mtok": output_mtok,
        "cache_read_mtok": cache_read_mtok,
        "cache_write_mtok": cache_write_mtok,
        "cache_write_1h_mtok": cache_write_1h_mtok,
        "input_audio_mtok": input_audio_mtok,
        "output_audio_mtok": output_audio_mtok,
        "input_mchars": input_mchars,
        "output_mchars": output_mchars,
        "input_audio_hours": input_audio_hours,
        "output_audio_hours": output_audio_hours,
        "context_window": context_window,
        "max_output_tokens": max_output_tokens,
    }
    prices = {key: value for key, value in given.items() if value is not None}
    settings = _settings(database_url)
    stored = _with_database(
        settings,
        lambda db: model_prices.add_price(db, provider, model, prices, _provider_names()),
    )
    console.print(f"Price of {stored[1]} at {stored[0]} saved.")


@prices_app.command("remove")
def prices_remove(
    provider: ProviderArgument, model: ModelArgument, database_url: DatabaseUrlOption = None
) -> None:
    """Remove a price added with `lava prices add` (servers drop it within
    LAVA_MODEL_PRICES_REFRESH_SECONDS)."""
    settings = _settings(database_url)
    stored = _with_database(
        settings, lambda db: model_prices.remove_price(db, provider, model, _provider_names())
    )
    console.print(f"Price of {stored[1]} at {stored[0]} removed.")


@prices_app.command("list")
def prices_list(
    provider: Annotated[
        str | None, typer.Option(help="Only this provider's prices (and those for any, '*').")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Only models whose name contains this (any case).")
    ] = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """List the model prices known: the price library's, the price file's
    (LAVA_MODEL_PRICES_FILE) and those added with `lava prices add`."""
    settings = _settings(database_url)
    rows = _with_database(
        settings, lambda db: model_prices.list_prices(db, settings, provider, model)
    )
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("provider", "model", "source", "input $/M", "output $/M", "other")
    for row in rows:
        prices = dict(row["prices"])
        others = [f"{key}={prices.pop(key)}" for key in list(prices)[2:]]
        if row["tiers"]:
            others.append(f"{len(row['tiers'])} long-context tier(s)")
        table.add_row(
            row["provider"],
            row["model"],
            row["source"],
            prices.get("input_mtok", ""),
            prices.get("output_mtok", ""),
            ", ".join(others),
        )
    console.print(table)
    console.print(f"{len(rows)} price(s)")


@app.command()
def worker(
    database_url: DatabaseUrlOption = None,
    once: Annotated[bool, typer.Option("--once", help="Run one round and exit.")] = False,
) -> None:
    """Run subscription renewals, period credit expiry and autopay until Ctrl-C or SIGTERM.

    `lava serve` runs the same loop itself unless LAVA_SEPARATE_WORKER=true."""
    from lava_server.worker.runner import run_process

    settings = _settings(database_url)
    logs.configure(settings.log_level, settings.log_format)
    startup.open_database(settings.database_url)
    done = asyncio.run(_worker(settings, once=once, run_process=run_process))
    if done is not None:
        console.print(
            f"Worker round: {done.renewals_queued} renewal(s) queued, "
            f"{done.autopay_queued} autopay top-up(s) queued, "
            f"{done.payments_processed} payment(s) processed, "
            f"{done.credit_expired} wallet(s) with expired credit",
            soft_wrap=True,
        )


MerchantOption = Annotated[str, typer.Option("--merchant", help="Merchant id (mer_...).")]


@webhooks_app.command("list")
def webhooks_list(
    merchant: MerchantOption,
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """List a merchant's webhook endpoints, newest first."""
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")

    async def work(db: Database) -> list[Any]:
        await merchants.require_merchant(db, merchant)
        rows = await webhooks.list_page(db, caller, None, 100)
        return [webhooks.render(row) for row in rows]

    rows = _with_database(settings, work)
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("webhook", "name", "url", "events", "status", "created")
    for row in rows:
        table.add_row(
            row["webhook_id"],
            row["name"],
            row["url"],
            ",".join(row["enabled_events"]),
            row["status"],
            row["created_at"],
        )
    console.print(table)


@webhooks_app.command("create")
def webhooks_create(
    name: str,
    url: str,
    merchant: MerchantOption,
    event: Annotated[
        list[str] | None,
        typer.Option("--event", help="An event type to receive; repeat. Default: all."),
    ] = None,
    legacy_names: Annotated[
        bool, typer.Option("--legacy-names", help="Send connection.* rather than customer.*.")
    ] = False,
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create a webhook endpoint and print its id and signing secret (shown once)."""
    try:
        params = WebhookCreate(
            name=name,
            url=url,
            enabled_events=event or None,
            event_names="legacy" if legacy_names else "current",
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        err_console.print(f"[red]{field_path(first['loc'])}: {first['msg']}[/red]")
        raise typer.Exit(2) from exc
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")

    async def work(db: Database) -> Any:
        await merchants.require_merchant(db, merchant)
        return webhooks.render_created(await webhooks.create(db, settings, caller, params))

    created = _with_database(settings, work)
    if as_json:
        print(json.dumps(created))
    else:
        console.print(
            f"Webhook {created['webhook_id']}\nSigning secret (shown once): "
            f"{created['webhook_secret']}",
            soft_wrap=True,
        )


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    webhook_id: str,
    merchant: MerchantOption,
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many, newest first.")] = 20,
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """The deliveries of a webhook endpoint with their attempts, newest first."""
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")
    rows = _with_database(
        settings, lambda db: webhooks.deliveries_page(db, caller, webhook_id, None, limit)
    )
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("delivery", "event", "type", "status", "attempts", "last answer", "next try")
    for row in rows:
        last = row["attempts"][-1] if row["attempts"] else None
        answer = ""
        if last is not None:
            answer = str(last["status_code"]) if last["status_code"] else (last["error"] or "")
        table.add_row(
            row["delivery_id"],
            row["event_id"],
            row["event_type"],
            row["status"],
            str(row["attempt_count"]),
            answer,
            row["next_attempt_at"] or "",
        )
    console.print(table)


@webhooks_app.command("resend")
def webhooks_resend(
    webhook_id: str,
    delivery_id: str,
    merchant: MerchantOption,
    live: LiveOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Send a delivery again (the worker sends it within seconds)."""
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")
    _with_database(settings, lambda db: webhooks.resend(db, caller, webhook_id, delivery_id))
    console.print(f"Delivery {delivery_id} will be sent again.")


async def _worker(settings: Settings, *, once: bool, run_process: Any) -> Any:
    """The worker loop, and beside it the webhook deliveries (`docs/webhooks.md`)."""
    from lava_server.db.engine import Database
    from lava_server.webhooks.worker import Deliverer

    db = Database(settings.database_url, pool_size=4)
    deliverer = Deliverer(db, settings)
    try:
        if once:
            done = await run_process(settings, once=True)
            await deliverer.run_once()
            return done
        await deliverer.start()
        return await run_process(settings, once=False)
    finally:
        await deliverer.stop()
        await db.dispose()


def _spend_key_row(key: RestSpendKey) -> list[str]:
    spend = key["spend_limit"]
    requests = key["request_limit"]
    return [
        key["spend_key_id"],
        key["name"],
        key["key_preview"],
        key["status"],
        key["customer_id"] or "(merchant)",
        "-" if spend is None else f"{key['current_spend']} / {spend['amount']} {spend['cycle']}",
        "-"
        if requests is None
        else f"{key['current_requests']} / {requests['count']} {requests['cycle']}",
    ]


@spend_keys_app.command("create")
def spend_keys_create(
    name: str,
    merchant: MerchantOption,
    customer: Annotated[
        str | None,
        typer.Option("--customer", help="Spend this customer's wallet (id or reference_id)."),
    ] = None,
    meter: Annotated[
        str | None, typer.Option("--meter", help="Price calls with this meter (slug or id).")
    ] = None,
    spend_limit: Annotated[
        str | None, typer.Option("--spend-limit", help="AMOUNT:CYCLE, e.g. 5:daily.")
    ] = None,
    request_limit: Annotated[
        str | None, typer.Option("--request-limit", help="COUNT:CYCLE, e.g. 1000:monthly.")
    ] = None,
    rpm: Annotated[int | None, typer.Option("--rpm", help="Rate limit, calls a minute.")] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="An allowed model; repeat. Default: all.")
    ] = None,
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create a spend key and print it (shown once)."""
    body: dict[str, Any] = {"name": name, "customer_id": customer, "meter_slug": meter}
    if spend_limit is not None:
        amount, _, cycle = spend_limit.partition(":")
        body["spend_limit"] = {"amount": amount, "cycle": cycle or "total"}
    if request_limit is not None:
        count, _, cycle = request_limit.partition(":")
        body["request_limit"] = {
            "count": int(count) if count.isdigit() else count,
            "cycle": cycle or "total",
        }
    if rpm is not None:
        body["rate_limit"] = {"rpm": rpm}
    if model:
        body["allowed_models"] = model
    try:
        params = SpendKeyCreate.model_validate({k: v for k, v in body.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        err_console.print(f"[red]{field_path(first['loc'])}: {first['msg']}[/red]")
        raise typer.Exit(2) from exc
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")

    async def work(db: Database) -> Any:
        await merchants.require_merchant(db, merchant)
        return await spend_keys.create(db, caller, params)

    created = _with_database(settings, work)
    if as_json:
        print(json.dumps(created))
    else:
        console.print(
            f"Spend key {created['spend_key_id']}\nKey (shown once): {created['key']}",
            soft_wrap=True,
        )


@spend_keys_app.command("list")
def spend_keys_list(
    merchant: MerchantOption,
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """List a merchant's spend keys not revoked, newest first (previews only)."""
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")

    async def work(db: Database) -> list[RestSpendKey]:
        await merchants.require_merchant(db, merchant)
        found: list[RestSpendKey] = []
        cursor: str | None = None
        while True:
            rows = await spend_keys.list_page(db, caller, cursor, 100)
            found.extend(spend_keys.render(row) for row in rows[:100])
            if len(rows) <= 100:
                return found
            cursor = rows[99][0].id

    rows = _with_database(settings, work)
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("name", "preview", "status", "spends", "spend", "requests")
    # The id is what the other commands take: never cut, however narrow the terminal.
    width = max((len(row["spend_key_id"]) for row in rows), default=9)
    table.columns.insert(0, Column("spend key", no_wrap=True, min_width=width))
    for row in rows:
        table.add_row(*_spend_key_row(row))
    console.print(table)


@spend_keys_app.command("revoke")
def spend_keys_revoke(
    spend_key_id: str,
    merchant: MerchantOption,
    live: LiveOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Revoke a spend key: it is refused from the next call on."""
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")
    _with_database(settings, lambda db: spend_keys.revoke(db, caller, spend_key_id))
    console.print(f"Revoked {spend_key_id}")


@spend_keys_app.command("rotate")
def spend_keys_rotate(
    spend_key_id: str,
    merchant: MerchantOption,
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Give a spend key a new raw key (shown once); the old one stops at once."""
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")
    rotated = _with_database(settings, lambda db: spend_keys.rotate(db, caller, spend_key_id))
    if as_json:
        print(json.dumps(rotated))
    else:
        console.print(
            f"Spend key {rotated['spend_key_id']}\nNew key (shown once): {rotated['key']}",
            soft_wrap=True,
        )


def _parsed(model: type[M], body: dict[str, Any]) -> M:
    """A command's input, checked as the API checks it (exit 2 naming the field)."""
    try:
        return model.model_validate({k: v for k, v in body.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        err_console.print(f"[red]{field_path(first['loc'])}: {first['msg']}[/red]")
        raise typer.Exit(2) from exc


def _print_operation(made: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(made))
    else:
        console.print(
            f"{made['id']}: {made['amount']} ({made['reason']}); the wallet has "
            f"{made['wallet_balance']} now",
            soft_wrap=True,
        )


ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept with the movement).")]


@credits_app.command("grant")
def credits_grant(
    customer: Annotated[str, typer.Argument(help="Customer (connection) id or reference_id.")],
    amount: Annotated[str, typer.Argument(help="USD, e.g. 10 or 2.50.")],
    reason: ReasonOption,
    merchant: MerchantOption,
    expires_at: Annotated[
        str | None,
        typer.Option("--expires-at", help="ISO 8601 time; what is left then goes back."),
    ] = None,
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Grant credit to a customer's wallet, paid by the merchant (merchant:<id>:grants)."""
    params = _parsed(CreditCreate, {"amount": amount, "reason": reason, "expires_at": expires_at})
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")

    async def work(db: Database) -> Any:
        await merchants.require_merchant(db, merchant)
        return await money_ops.grant_credit(
            Billing(settings, db), caller, customer, params, param="customer_id"
        )

    _print_operation(_with_database(settings, work), as_json)


@app.command("adjust")
def adjust(
    customer: Annotated[str, typer.Argument(help="Customer (connection) id or reference_id.")],
    amount: Annotated[
        str, typer.Option("--amount", help="Signed USD, e.g. 5 or -2.50 (down to zero at most).")
    ],
    reason: ReasonOption,
    merchant: MerchantOption,
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Correct a customer's wallet by a signed amount (merchant:<id>:adjustments)."""
    params = _parsed(AdjustmentCreate, {"amount": amount, "reason": reason})
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")

    async def work(db: Database) -> Any:
        await merchants.require_merchant(db, merchant)
        return await money_ops.adjust(
            Billing(settings, db), caller, customer, params, param="customer_id"
        )

    _print_operation(_with_database(settings, work), as_json)


@refunds_app.command("create")
def refunds_create(
    payment_id: Annotated[str, typer.Argument(help="The top-up payment (pay_...).")],
    merchant: MerchantOption,
    amount: Annotated[
        str | None, typer.Option("--amount", help="USD (whole cents); default: all that is left.")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            help="Run again with the same key to finish a pending refund, never a second one.",
        ),
    ] = None,
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Refund a top-up payment through its provider; the wallet is debited by the same amount."""
    params = _parsed(RefundCreate, {"payment_id": payment_id, "amount": amount})
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")

    async def work(db: Database) -> Any:
        await merchants.require_merchant(db, merchant)
        key = None if idempotency_key is None else f"cli:{idempotency_key}"
        return await money_ops.create_refund(Billing(settings, db), caller, params, key)

    made = _with_database(settings, work)
    if as_json:
        print(json.dumps(made))
    else:
        console.print(f"{made['id']}: {made['amount']} refunded ({made['status']})")


@payments_app.command("list")
def payments_list(
    merchant: MerchantOption,
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only this customer's (id or reference_id).")
    ] = None,
    live: LiveOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """List a merchant's payments with what was refunded of them, newest first."""
    settings = _settings(database_url)
    caller = Caller(merchant_id=merchant, livemode=live, key_id="cli")

    async def work(db: Database) -> list[Any]:
        await merchants.require_merchant(db, merchant)
        billing = Billing(settings, db)
        found: list[Any] = []
        cursor: str | None = None
        while True:
            page, more = await money_ops.list_payments(billing, caller, cursor, 100, customer)
            found.extend(page)
            if not more:
                return found
            cursor = page[-1]["id"]

    rows = _with_database(settings, work)
    if as_json:
        print(json.dumps(rows))
        return
    width = max((len(row["id"]) for row in rows), default=7)
    table = Table(Column("payment", no_wrap=True, min_width=width))
    for name in ("customer", "purpose", "status", "amount", "refunded", "created"):
        table.add_column(name)
    for row in rows:
        table.add_row(
            row["id"],
            row["customer_id"] or "-",
            row["purpose"] + (" (top-up)" if row["top_up"] else ""),
            row["status"],
            row["amount"],
            row["amount_refunded"],
            row["created_at"],
        )
    console.print(table)


RoleOption = Annotated[
    str, typer.Option("--role", help="admin (every action) or viewer (reads only).")
]
PasswordOption = Annotated[
    bool,
    typer.Option(
        "--password",
        help="Ask for the password (typed twice, or two lines on standard input) instead of "
        "printing a one-time sign-in link.",
    ),
]


def _ask_password() -> str:
    password: str = typer.prompt(
        "Password (12 characters or more)", hide_input=True, confirmation_prompt=True
    )
    return password


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Argument(help="The user's email (their sign-in name).")],
    merchant: Annotated[str, typer.Option("--merchant", help="Merchant id (mer_...).")],
    role: RoleOption = "admin",
    password: PasswordOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create a dashboard user of a merchant; print a one-time sign-in link (or ask a password)."""
    settings = _settings(database_url)
    secret = _ask_password() if password else None
    user, token = _with_database(
        settings,
        lambda db: dashboard_users.create_user(db, settings, email, merchant, role, secret),
    )
    link = None if token is None else dashboard_users.link_url(settings, token)
    if as_json:
        made = {"user_id": user.id, "email": user.email, "role": user.role, "link": link}
        print(json.dumps(made))
        return
    console.print(f"User {user.email} ({user.role}) of merchant {user.merchant_id}", soft_wrap=True)
    if link is not None:
        console.print(
            f"Sign-in link (works once, for {settings.dashboard_link_minutes} minutes): {link}",
            soft_wrap=True,
        )


@users_app.command("reset-password")
def users_reset_password(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    password: PasswordOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Sign the user out everywhere and print a one-time sign-in link (or set the password)."""
    settings = _settings(database_url)
    secret = _ask_password() if password else None
    token = _with_database(
        settings, lambda db: dashboard_users.reset_password(db, settings, email, secret)
    )
    link = None if token is None else dashboard_users.link_url(settings, token)
    if as_json:
        print(json.dumps({"email": email.strip().lower(), "link": link}))
    elif link is not None:
        console.print(
            f"Signed out everywhere. Sign-in link (works once, for "
            f"{settings.dashboard_link_minutes} minutes): {link}",
            soft_wrap=True,
        )
    else:
        console.print("Password set; the user was signed out everywhere.")


@app.command("demo")
def demo(
    minutes: Annotated[
        float, typer.Option(min=0.05, help="How long the traffic runs (real minutes).")
    ] = 1.0,
    port: Annotated[int, typer.Option(help="Port of the Lava API.")] = 8787,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where the demo's SQLite file goes (default: a new temp dir)."),
    ] = None,
    keep_running: Annotated[
        bool,
        typer.Option(
            "--keep-running/--exit", help="After the traffic, serve until Ctrl-C, or exit."
        ),
    ] = True,
) -> None:
    """Start Lava with the fake AI provider, Stripe and Twilio on a fresh SQLite file, create a
    merchant, meters, a plan and 20 customers, and fill a week of history with traffic."""
    from lava_server import demo as demo_module

    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    raise typer.Exit(
        demo_module.main(
            port=port,
            directory=directory,
            minutes=minutes,
            keep_running=keep_running,
            console=console,
        )
    )


@app.command("fake-provider")
def fake_provider(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9100,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    latency_ms: Annotated[
        float, typer.Option("--latency-ms", help="Delay before the first byte.")
    ] = 0,
) -> None:
    """Run the fake OpenAI/Anthropic/Gemini server used by tests, demos and benchmarks."""
    from lava_server.testing.fake_provider import run

    startup.check_port(host, port, ("--host", "--port"))
    console.print(
        f"Fake provider on http://{host}:{port} (for example: "
        f"LAVA_UPSTREAM_OPENAI=http://{host}:{port} LAVA_PROVIDER_KEY_OPENAI=sk-fake lava serve)",
        soft_wrap=True,
    )
    run(host=host, port=port, latency_ms=latency_ms)


@app.command("fake-stripe")
def fake_stripe(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 12111,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    webhook_url: Annotated[
        str | None,
        typer.Option("--webhook-url", help="Where to POST the signed events (none: not sent)."),
    ] = None,
    webhook_secret: Annotated[
        str, typer.Option("--webhook-secret", help="The whsec_ secret that signs the events.")
    ] = "whsec_fake",
    publishable_key: Annotated[
        str | None,
        typer.Option("--publishable-key", help="Accept only this pk_ key (default: any)."),
    ] = None,
) -> None:
    """Run the fake Stripe (API, webhooks, Stripe.js stand-in) used by tests and demos."""
    from lava_server.testing.fake_stripe import run

    startup.check_port(host, port, ("--host", "--port"))
    problem = None
    if not webhook_secret.startswith("whsec_"):
        problem = "--webhook-secret must start with whsec_ (as Stripe's signing secrets do)"
    elif publishable_key is not None and not publishable_key.startswith(("pk_test_", "pk_live_")):
        problem = "--publishable-key must start with pk_test_ or pk_live_"
    elif webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
        problem = "--webhook-url must be an http:// or https:// URL"
    if problem:
        err_console.print(f"[red]{problem}[/red]")
        raise typer.Exit(2)
    base = f"http://{host}:{port}"
    console.print(
        f"Fake Stripe on {base} (API {base}/v1, Stripe.js {base}/v3/, controls {base}/_fake/); "
        f"webhooks to {webhook_url or 'nowhere (set one with --webhook-url)'}",
        soft_wrap=True,
    )
    run(
        host=host,
        port=port,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        publishable_key=publishable_key,
    )


@app.command("fake-twilio")
def fake_twilio(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9200,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    account_sid: Annotated[
        str, typer.Option("--account-sid", help="Account SID the fake accepts (AC...).")
    ] = "AC" + "0" * 32,
    auth_token: Annotated[
        str, typer.Option("--auth-token", help="Auth token the fake accepts.")
    ] = "fake-twilio-token",
    from_number: Annotated[
        list[str] | None,
        typer.Option("--from", help="A From number of the account (repeat for more)."),
    ] = None,
) -> None:
    """Run a fake Twilio Messages API for one-time codes by SMS (tests and demos)."""
    from lava_server.testing.fake_twilio import DEFAULT_FROM, run

    startup.check_port(host, port, ("--host", "--port"))
    numbers = frozenset(from_number or [DEFAULT_FROM])
    console.print(
        f"Fake Twilio on http://{host}:{port} (for example: LAVA_CODE_SENDER_LIVE=twilio "
        f"LAVA_TWILIO_BASE_URL=http://{host}:{port} LAVA_TWILIO_ACCOUNT_SID={account_sid} "
        f"LAVA_TWILIO_AUTH_TOKEN=... LAVA_TWILIO_FROM={sorted(numbers)[0]} lava serve); "
        f"messages sent: GET http://{host}:{port}/_fake/messages",
        soft_wrap=True,
    )
    run(host=host, port=port, account_sid=account_sid, auth_token=auth_token, from_numbers=numbers)


def main() -> None:
    app()
