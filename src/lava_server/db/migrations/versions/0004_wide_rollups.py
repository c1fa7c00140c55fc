"""usage roll-ups that cannot overflow

The sums of `usage_buckets` add up many requests, so no bound on one amount keeps them within 64
bits: on SQLite their money (integer 1e-10 dollars) moves from INTEGER to TEXT, added and summed
by the server's own exact functions; `total_usage_tokens` becomes NUMERIC(38, 0) on PostgreSQL
(its BIGINT would overflow too) and TEXT on SQLite.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lava_server.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = (
    "total_usage_cost",
    "total_fee_amount",
    "total_service_charge_amount",
    "total_request_cost",
    "total_wallet_cost",
    "total_merchant_cost",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite changes a column's type by copying the table; INTEGER values copied into TEXT
        # columns are kept as their decimal text.
        with op.batch_alter_table("usage_buckets", recreate="always") as batch_op:
            for name in (*MONEY, "total_usage_tokens"):
                batch_op.alter_column(name, type_=sa.Text(), existing_nullable=False)
        return
    op.alter_column(
        "usage_buckets",
        "total_usage_tokens",
        type_=sa.Numeric(38, 0),
        existing_type=sa.BigInteger(),
        existing_nullable=False,
        postgresql_using="total_usage_tokens::numeric(38, 0)",
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("usage_buckets", recreate="always") as batch_op:
            for name in MONEY:
                batch_op.alter_column(
                    name, type_=lava_server.db.types.Money(), existing_nullable=False
                )
            batch_op.alter_column(
                "total_usage_tokens", type_=sa.BigInteger(), existing_nullable=False
            )
        return
    op.alter_column(
        "usage_buckets",
        "total_usage_tokens",
        type_=sa.BigInteger(),
        existing_type=sa.Numeric(38, 0),
        existing_nullable=False,
        postgresql_using="total_usage_tokens::bigint",
    )
