"""plans, credit bundles and the current API's subscriptions

A subscription config is the current API's plan (`docs/current-api.md#plans`). Adds to
`subscription_configs`: `billing_interval` (existing plans: `month`), `included_credit`
(existing plans: their `period_amount`, which is what they granted), `bundle_rollover_type`
(`full`), `default_auto_top_up_bundle_id` and `is_free` (the merchant's $0 Free plan, one per
merchant and mode). New tables: `plan_meters` (a plan's meter links; none = every meter) and
`credit_bundles` (`cb_` ids, soft deleted). Adds to `active_subscriptions`: the auto top-up
bundle and a scheduled change (`pending_change`, `pending_at`, `pending_plan_id`); its
`payment_method_id` becomes nullable (free plans are not paid). Adds `credit_grants.kind`
(`cycle`, or `bundle` for bought credit; existing grants are cycle credit), and
`checkout_sessions.credit_bundle_id` (what a `credit_bundle` checkout buys).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lava_server.db.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FREE = sa.text("is_free")
NOT_DELETED = sa.text("deleted_at IS NULL")


def _money() -> lava_server.db.types.Money:
    return lava_server.db.types.Money(precision=38, scale=10)


def upgrade() -> None:
    with op.batch_alter_table("subscription_configs") as batch:
        batch.add_column(
            sa.Column(
                "billing_interval", sa.String(length=8), server_default="month", nullable=False
            )
        )
        batch.add_column(sa.Column("included_credit", _money(), nullable=True))
        batch.add_column(
            sa.Column(
                "bundle_rollover_type", sa.String(length=8), server_default="full", nullable=False
            )
        )
        batch.add_column(
            sa.Column("default_auto_top_up_bundle_id", sa.String(length=64), nullable=True)
        )
        batch.add_column(
            sa.Column("is_free", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
    # Money is stored the same way in both columns, so the copy is exact on both databases.
    op.execute("UPDATE subscription_configs SET included_credit = period_amount")
    with op.batch_alter_table("subscription_configs") as batch:
        batch.alter_column("included_credit", existing_type=_money(), nullable=False)
        batch.create_index(
            "uq_subscription_configs_free",
            ["merchant_id", "livemode"],
            unique=True,
            sqlite_where=FREE,
            postgresql_where=FREE,
        )

    op.create_table(
        "plan_meters",
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("meter_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["subscription_configs.id"]),
        sa.ForeignKeyConstraint(["meter_id"], ["products.id"]),
        sa.PrimaryKeyConstraint("plan_id", "meter_id"),
    )
    op.create_table(
        "credit_bundles",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("cost", _money(), nullable=False),
        sa.Column("credit_amount", _money(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", lava_server.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", lava_server.db.types.UTCDateTime(), nullable=False),
        sa.Column("deleted_at", lava_server.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["subscription_configs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("credit_bundles") as batch:
        batch.create_index("ix_credit_bundles_plan", ["plan_id", "position"], unique=False)

    with op.batch_alter_table("active_subscriptions") as batch:
        batch.alter_column("payment_method_id", existing_type=sa.String(length=64), nullable=True)
        batch.add_column(sa.Column("auto_top_up_bundle_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("pending_change", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("pending_at", lava_server.db.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("pending_plan_id", sa.String(length=64), nullable=True))

    with op.batch_alter_table("credit_grants") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=8), server_default="cycle", nullable=False)
        )
    with op.batch_alter_table("checkout_sessions") as batch:
        batch.add_column(sa.Column("credit_bundle_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checkout_sessions") as batch:
        batch.drop_column("credit_bundle_id")
    with op.batch_alter_table("credit_grants") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("active_subscriptions") as batch:
        batch.drop_column("pending_plan_id")
        batch.drop_column("pending_at")
        batch.drop_column("pending_change")
        batch.drop_column("auto_top_up_bundle_id")
        batch.alter_column("payment_method_id", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("credit_bundles") as batch:
        batch.drop_index("ix_credit_bundles_plan")
    op.drop_table("credit_bundles")
    op.drop_table("plan_meters")
    with op.batch_alter_table("subscription_configs") as batch:
        batch.drop_index("uq_subscription_configs_free", sqlite_where=FREE, postgresql_where=FREE)
        batch.drop_column("is_free")
        batch.drop_column("default_auto_top_up_bundle_id")
        batch.drop_column("bundle_rollover_type")
        batch.drop_column("included_credit")
        batch.drop_column("billing_interval")
