"""merchant money operations

Grants of credit and adjustments (`balance_operations`), refunds (`refunds`), and merchants'
grants with an expiry as period credit: `credit_grants.active_subscription_id` and `payment_id`
become nullable and `credit_grants.balance_operation_id` names the grant
(`docs/checkout-and-wallets.md#merchant-money-operations`).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lava_server.db.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _money() -> lava_server.db.types.Money:
    return lava_server.db.types.Money(precision=38, scale=10)


def _time() -> lava_server.db.types.UTCDateTime:
    return lava_server.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "balance_operations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("wallet_id", sa.String(length=64), nullable=False),
        sa.Column("amount", _money(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("expires_at", _time(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("balance_operations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_balance_operations_merchant", ["merchant_id", "livemode", "id"], unique=False
        )
        batch_op.create_index("ix_balance_operations_wallet", ["wallet_id"], unique=False)

    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=True),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("wallet_id", sa.String(length=64), nullable=False),
        sa.Column("amount", _money(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_refund_id", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_key", sa.String(length=255), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.String(length=255), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("completed_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"]),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("provider", "provider_refund_id", name="uq_refunds_provider_refund"),
        sa.UniqueConstraint("merchant_id", "livemode", "request_key", name="uq_refunds_request"),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index("ix_refunds_payment", ["payment_id"], unique=False)
        batch_op.create_index(
            "ix_refunds_merchant", ["merchant_id", "livemode", "id"], unique=False
        )

    with op.batch_alter_table("credit_grants", schema=None) as batch_op:
        batch_op.alter_column(
            "active_subscription_id", existing_type=sa.String(length=64), nullable=True
        )
        batch_op.alter_column("payment_id", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("balance_operation_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credit_grants", schema=None) as batch_op:
        batch_op.drop_column("balance_operation_id")
        batch_op.alter_column("payment_id", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column(
            "active_subscription_id", existing_type=sa.String(length=64), nullable=False
        )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_merchant")
        batch_op.drop_index("ix_refunds_payment")
    op.drop_table("refunds")
    with op.batch_alter_table("balance_operations", schema=None) as batch_op:
        batch_op.drop_index("ix_balance_operations_wallet")
        batch_op.drop_index("ix_balance_operations_merchant")
    op.drop_table("balance_operations")
