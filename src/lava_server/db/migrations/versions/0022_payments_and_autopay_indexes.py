"""the merchant's payments by mode, and the wallets with autopay

`ix_payments_merchant`: a merchant's payments of one mode, newest first (`GET /v1/payments`, the
dashboard's customer pages: `payments.repository.payments_page`) were read by walking every
payment of every merchant and mode backwards by id. `ix_wallets_autopay`: the worker's round
(every 5 s) looks for wallets with autopay on below their threshold; it read every wallet (72 ms
for 1,000,000 wallets, 1% of them with autopay, on SQLite), and now reads those with autopay
(16 ms). Partial, on the very condition the worker's query writes (`autopay_enabled IS true`),
so that both databases use it.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_payments_merchant", "payments", ["merchant_id", "livemode", "id"])
    op.create_index(
        "ix_wallets_autopay",
        "wallets",
        ["id"],
        sqlite_where=sa.text("autopay_enabled IS 1"),
        postgresql_where=sa.text("autopay_enabled IS true"),
    )


def downgrade() -> None:
    op.drop_index("ix_wallets_autopay", table_name="wallets")
    op.drop_index("ix_payments_merchant", table_name="payments")
