"""customers: a connection's own contact and metadata (the current API's customer)

A customer of the current API is a connection (`docs/current-api.md`). The customer routes keep
the contact and metadata on the connection, not on the wallet, which a person may share with
other merchants. `own_contact` says whether the connection's contact is set; existing
connections are backfilled from their wallet's details and marked as set.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_CONTACT = ("phone", "email", "first_name", "last_name")


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("email", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("first_name", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("last_name", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("metadata", _JSON, nullable=True))
    for column in _CONTACT:
        op.execute(
            f"UPDATE connections SET {column} = "  # noqa: S608 - fixed column names
            f"(SELECT wallets.{column} FROM wallets WHERE wallets.id = connections.wallet_id)"
        )


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        for column in (*_CONTACT, "metadata"):
            batch.drop_column(column)
