"""disputes freeze wallets

A dispute (chargeback) of a card payment opened at the provider (Stripe's
`charge.dispute.created`) freezes the wallet that payment funded until every dispute of it is
closed (`docs/checkout-and-wallets.md#disputes`): `wallets.frozen_at`, and the `disputes` table
(one row per provider dispute; a lost one debits the wallet like a refund made at the provider).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lava_server.db.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("frozen_at", lava_server.db.types.UTCDateTime(), nullable=True)
        )
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("wallet_id", sa.String(length=64), nullable=False),
        sa.Column("amount", lava_server.db.types.Money(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", lava_server.db.types.UTCDateTime(), nullable=False),
        sa.Column("closed_at", lava_server.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"]),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallets.id"]),
        sa.PrimaryKeyConstraint("provider", "id"),
    )
    op.create_index("ix_disputes_wallet", "disputes", ["wallet_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_disputes_wallet", table_name="disputes")
    op.drop_table("disputes")
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_column("frozen_at")
