"""the server process that claimed an idempotency key

`idempotency_keys.process_id`: the `server_processes` row of the process running a key's first
request. When that process dies before answering, a retry with the key takes the claim over
instead of getting 409 until the key expires (`api/idempotency.py`). So that such a retry
never makes a merchant's grant or adjustment twice, the operation keeps the request's key in its
own transaction: `balance_operations.idempotency_key`, unique per merchant and mode.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("process_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("balance_operations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch_op.create_index(
            "uq_balance_operations_key",
            ["merchant_id", "livemode", "idempotency_key"],
            unique=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("balance_operations", schema=None) as batch_op:
        batch_op.drop_index("uq_balance_operations_key")
        batch_op.drop_column("idempotency_key")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("process_id")
