"""the customers' roll-up series by time

`ix_usage_buckets_any_product`: the roll-up rows that sum over every product (`product_id =
''`), by merchant, mode and time. The dashboard's top customers of a day read that day's rows
through it instead of every customer's whole history (`usage.repository.top_series`). Partial,
so the roll-up writes of a request's product rows do not maintain it.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_usage_buckets_any_product",
        "usage_buckets",
        ["merchant_id", "livemode", "bucket"],
        unique=False,
        sqlite_where=sa.text("product_id = ''"),
        postgresql_where=sa.text("product_id = ''"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_usage_buckets_any_product",
        table_name="usage_buckets",
        sqlite_where=sa.text("product_id = ''"),
        postgresql_where=sa.text("product_id = ''"),
    )
