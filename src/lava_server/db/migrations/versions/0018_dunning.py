"""dunning of declined renewals and autopay, detached payment methods

A declined renewal or autopay charge is retried 1, 3 and 5 days after the first decline, then
the subscription is cancelled / autopay stays off (`docs/checkout-and-wallets.md#dunning`):
`active_subscriptions.past_due_since`, `payment_retries`, `next_payment_retry_at` and
`wallets.autopay_failed_at`, `autopay_retries`, `autopay_retry_at`. A card removed at the
provider (Stripe's `payment_method.detached`) is never charged again:
`payment_methods.detached_at`. Payments are found by the provider's id (refunds and disputes
from Stripe's webhook): `ix_payments_provider_payment_id`.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lava_server.db.types

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("active_subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("past_due_since", lava_server.db.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("payment_retries", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("next_payment_retry_at", lava_server.db.types.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("autopay_failed_at", lava_server.db.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("autopay_retries", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("autopay_retry_at", lava_server.db.types.UTCDateTime(), nullable=True)
        )
        batch_op.create_index("ix_wallets_autopay_retry_at", ["autopay_retry_at"], unique=False)
    with op.batch_alter_table("payment_methods", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("detached_at", lava_server.db.types.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payments_provider_payment_id", ["provider_payment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_provider_payment_id")
    with op.batch_alter_table("payment_methods", schema=None) as batch_op:
        batch_op.drop_column("detached_at")
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_index("ix_wallets_autopay_retry_at")
        batch_op.drop_column("autopay_retry_at")
        batch_op.drop_column("autopay_retries")
        batch_op.drop_column("autopay_failed_at")
    with op.batch_alter_table("active_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("next_payment_retry_at")
        batch_op.drop_column("payment_retries")
        batch_op.drop_column("past_due_since")
