"""The migrations build exactly the schema of the models (tables, columns, indexes), on both
databases: a model change without its migration fails here."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lava_server.db.engine import Database
from lava_server.db.models import Base


async def test_the_migrated_schema_is_the_models_schema(database_url: str) -> None:
    db = Database(database_url)

    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with db.engine.connect() as connection:
            found = await connection.run_sync(differences)
    finally:
        await db.dispose()
    assert found == []


async def test_the_roll_ups_keep_their_sums_when_they_become_wide(
    tmp_path, pg_database_url
) -> None:
    """Migration 0004 moves the roll-ups' sums to wide columns: what was there reads the same."""
    import asyncio
    import uuid

    import asyncpg
    from alembic import command
    from sqlalchemy import select, text
    from sqlalchemy.engine import make_url

    from lava_server.db.migrate import alembic_config, upgrade
    from lava_server.db.models import UsageBucket

    urls = [f"sqlite:///{tmp_path / 'old.db'}"]
    admin = None
    if pg_database_url is not None:
        name = f"lava_mig_{uuid.uuid4().hex[:8]}"
        admin = make_url(pg_database_url).set(drivername="postgresql")
        connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()
        urls.append(
            make_url(pg_database_url).set(database=name).render_as_string(hide_password=False)
        )
    try:
        for url in urls:
            await asyncio.to_thread(command.upgrade, alembic_config(url), "0003")
            db = Database(url)
            async with db.write() as session:
                # SQLite stored money as integer 1e-10 dollars; PostgreSQL as NUMERIC
                money = "12345678901234567" if db.is_sqlite else "1234567.8901234567"
                await session.execute(
                    text(
                        "INSERT INTO usage_buckets VALUES ('mer', false, '', '', 900, 3, "
                        f"4000000000000000000, {money}, {money}, 0, {money}, 0, 0)"
                    )
                )
            await db.dispose()
            upgrade(url)
            db = Database(url)
            async with db.read() as session:
                row = (await session.execute(select(UsageBucket))).scalar_one()
            await db.dispose()
            assert row.total_requests == 3
            assert row.total_usage_tokens == 4 * 10**18
            assert str(row.total_usage_cost) == "1234567.8901234567"
            assert str(row.total_request_cost) == "1234567.8901234567"
            assert str(row.total_wallet_cost) == "0E-10"
    finally:
        if admin is not None:
            connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.close()


async def test_customers_and_meters_are_backfilled(tmp_path, pg_database_url) -> None:
    """Migrations 0007-0009 carry existing rows over: connections get their wallet's contact,
    keys a name, products a `meter_slug` made from their name (unique among the live ones)."""
    import asyncio
    import uuid
    from datetime import datetime, timezone

    import asyncpg
    from alembic import command
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from lava_server.db.migrate import alembic_config, upgrade

    urls = [f"sqlite:///{tmp_path / 'old.db'}"]
    admin = None
    if pg_database_url is not None:
        name = f"lava_mig_{uuid.uuid4().hex[:8]}"
        admin = make_url(pg_database_url).set(drivername="postgresql")
        connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()
        urls.append(
            make_url(pg_database_url).set(database=name).render_as_string(hide_password=False)
        )
    now = "2026-01-01 00:00:00"
    try:
        for url in urls:
            await asyncio.to_thread(command.upgrade, alembic_config(url), "0006")
            db = Database(url)
            async with db.write() as session:
                for statement in (
                    f"INSERT INTO merchants VALUES ('mer_1', 'M', '{now}')",
                    "INSERT INTO api_keys (id, merchant_id, livemode, key_hash, hint, created_at)"
                    f" VALUES ('key_1', 'mer_1', false, 'h', 'abcd', '{now}')",
                    "INSERT INTO wallets (id, livemode, phone, email, first_name, last_name,"
                    " balance, held, autopay_enabled, created_at) VALUES ('wal_1', false,"
                    f" '+15550001', 'a@b.c', 'Ada', 'Lovelace', 0, 0, false, '{now}')",
                    "INSERT INTO connections (id, merchant_id, livemode, wallet_id, reference_id,"
                    " secret, created_at) VALUES ('con_1', 'mer_1', false, 'wal_1', 'r',"
                    f" 'cons_1', '{now}')",
                ):
                    await session.execute(text(statement))
                for n, (product_name, deleted) in enumerate(
                    [("Chat API", True), ("Chat API", False), ("Chat  api!", False), ("???", False)]
                ):
                    await session.execute(
                        text(
                            "INSERT INTO products (id, merchant_id, livemode, name, secret,"
                            " rate_type, token_basis, tiers, base_cost_payer,"
                            " service_charge_payer, overdraft, created_at, updated_at,"
                            " deleted_at) VALUES (:id, 'mer_1', false, :name, :secret, 'fixed',"
                            " 'input+output', '[]', 'wallet', 'wallet', 'block', :at, :at,"
                            " :deleted)"
                        ),
                        {
                            "id": f"prd_{n}",
                            "name": product_name,
                            "secret": f"ps_{n}",
                            "at": datetime(2026, 1, n + 1, tzinfo=timezone.utc),
                            "deleted": datetime(2026, 2, 1, tzinfo=timezone.utc)
                            if deleted
                            else None,
                        },
                    )
            await db.dispose()
            upgrade(url)
            db = Database(url)
            async with db.read() as session:
                contact = (
                    await session.execute(
                        text("SELECT phone, email, first_name, last_name FROM connections")
                    )
                ).one()
                key_name = (await session.execute(text("SELECT name FROM api_keys"))).scalar()
                slugs = dict(
                    (await session.execute(text("SELECT id, meter_slug FROM products"))).all()
                )
            await db.dispose()
            assert tuple(contact) == ("+15550001", "a@b.c", "Ada", "Lovelace")
            assert key_name == "Secret key"
            assert slugs == {
                "prd_0": "chat-api",  # deleted: its slug is free for the next
                "prd_1": "chat-api",
                "prd_2": "chat-api-2",
                "prd_3": "meter",
            }
    finally:
        if admin is not None:
            connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.close()


async def test_plans_and_subscriptions_are_carried_over(tmp_path, pg_database_url) -> None:
    """Migration 0010 makes subscription configs plans: existing ones are monthly, grant their
    `period_amount` (`included_credit`), keep bought credit (`bundle_rollover_type` full); an
    existing subscription keeps its id, wallet, connection and card, with nothing pending, and
    its credit grants are cycle credit."""
    import asyncio
    import uuid

    import asyncpg
    from alembic import command
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from lava_server.db.migrate import alembic_config, upgrade

    urls = [f"sqlite:///{tmp_path / 'old.db'}"]
    admin = None
    if pg_database_url is not None:
        name = f"lava_mig_{uuid.uuid4().hex[:8]}"
        admin = make_url(pg_database_url).set(drivername="postgresql")
        connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()
        urls.append(
            make_url(pg_database_url).set(database=name).render_as_string(hide_password=False)
        )
    now = "2026-01-01 00:00:00"
    try:
        for url in urls:
            await asyncio.to_thread(command.upgrade, alembic_config(url), "0009")
            db = Database(url)
            # SQLite stores money as integer 1e-10 dollars; PostgreSQL as NUMERIC
            amount = "123456700000" if db.is_sqlite else "12.34567"
            async with db.write() as session:
                for statement in (
                    f"INSERT INTO merchants VALUES ('mer_1', 'M', '{now}')",
                    "INSERT INTO wallets (id, livemode, phone, balance, held, autopay_enabled,"
                    f" created_at) VALUES ('wal_1', false, '+15550001', 0, 0, false, '{now}')",
                    "INSERT INTO subscription_configs (id, merchant_id, livemode, name,"
                    " period_amount, rollover_type, created_at, updated_at) VALUES ('sc_1',"
                    f" 'mer_1', false, 'Pro', {amount}, 'full', '{now}', '{now}')",
                    "INSERT INTO active_subscriptions (id, merchant_id, livemode, wallet_id,"
                    " connection_id, subscription_config_id, payment_method_id, status,"
                    " started_at, billing_anchor, period_index, current_period_start,"
                    " current_period_end, created_at) VALUES ('as_1', 'mer_1', false, 'wal_1',"
                    f" 'con_1', 'sc_1', 'pm_1', 'active', '{now}', 1, 0, '{now}',"
                    f" '2026-02-01 00:00:00', '{now}')",
                    "INSERT INTO credit_grants (wallet_id, livemode, merchant_id,"
                    " active_subscription_id, payment_id, amount, remaining, granted_at)"
                    f" VALUES ('wal_1', false, 'mer_1', 'as_1', 'pay_1', {amount}, {amount},"
                    f" '{now}')",
                ):
                    await session.execute(text(statement))
            await db.dispose()
            upgrade(url)
            db = Database(url)
            from sqlalchemy import select

            from lava_server.db.models import ActiveSubscription, CreditGrant, SubscriptionConfig

            async with db.read() as session:
                plan = (await session.execute(select(SubscriptionConfig))).scalar_one()
                subscription = (await session.execute(select(ActiveSubscription))).scalar_one()
                grant = (await session.execute(select(CreditGrant))).scalar_one()
            await db.dispose()
            assert plan.billing_interval == "month"
            assert str(plan.included_credit) == str(plan.period_amount) == "12.3456700000"
            assert plan.bundle_rollover_type == "full"
            assert plan.rollover_type == "full"
            assert plan.default_auto_top_up_bundle_id is None
            assert plan.is_free is False
            assert (subscription.wallet_id, subscription.connection_id) == ("wal_1", "con_1")
            assert subscription.payment_method_id == "pm_1"
            assert subscription.pending_change is None and subscription.cancelled_at is None
            assert grant.kind == "cycle"
    finally:
        if admin is not None:
            connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.close()
