"""auto top-up of credit bundles

A subscription's auto top-up bundle is bought with a payment of purpose `auto_top_up`
(`docs/checkout-and-wallets.md#auto-top-up-of-credit-bundles`). Adds `payments.credit_bundle_id`
(the bundle a payment buys) and `uq_payments_top_up_pending`: at most one pending auto top-up per
subscription, so concurrent triggers (on any number of server processes) buy one bundle.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOP_UP_PENDING = sa.text("purpose = 'auto_top_up' AND status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_bundle_id", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "uq_payments_top_up_pending",
            ["active_subscription_id"],
            unique=True,
            sqlite_where=TOP_UP_PENDING,
            postgresql_where=TOP_UP_PENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_payments_top_up_pending",
            sqlite_where=TOP_UP_PENDING,
            postgresql_where=TOP_UP_PENDING,
        )
        batch_op.drop_column("credit_bundle_id")
