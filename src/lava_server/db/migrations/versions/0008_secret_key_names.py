"""secret key names: the current API's `secret_keys` name each key

Keys made before are named "Secret key".

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("name", sa.String(length=255), nullable=True))
    op.execute("UPDATE api_keys SET name = 'Secret key'")
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("name", existing_type=sa.String(length=255), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("name")
