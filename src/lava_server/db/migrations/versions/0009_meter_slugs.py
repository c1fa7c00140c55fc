"""meter slugs: a product is the current API's meter, named in forward tokens by its slug

Adds `products.meter_slug`, unique among a merchant's live (not deleted) products of a mode.
Existing products get one made from their name (`docs/current-api.md#meters`): lower case,
runs of other characters as `-`, and `-2`, `-3`, ... after a slug already taken, oldest first.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_DELETED = sa.text("deleted_at IS NULL")
MAX_SLUG = 64


def _slug(name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:MAX_SLUG].strip("-")
    return base or "meter"


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("meter_slug", sa.String(length=128), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT id, merchant_id, livemode, name, deleted_at FROM products "
            "ORDER BY created_at, id"
        )
    ).all()
    taken: set[tuple[str, bool, str]] = set()
    for row in rows:
        base = _slug(row.name)
        slug, n = base, 1
        while (row.merchant_id, bool(row.livemode), slug) in taken:
            n += 1
            slug = f"{base[: MAX_SLUG - len(str(n)) - 1]}-{n}"
        if row.deleted_at is None:
            taken.add((row.merchant_id, bool(row.livemode), slug))
        connection.execute(
            sa.text("UPDATE products SET meter_slug = :slug WHERE id = :id"),
            {"slug": slug, "id": row.id},
        )
    with op.batch_alter_table("products") as batch:
        batch.alter_column("meter_slug", existing_type=sa.String(length=128), nullable=False)
        batch.create_index(
            "uq_products_meter_slug",
            ["merchant_id", "livemode", "meter_slug"],
            unique=True,
            sqlite_where=NOT_DELETED,
            postgresql_where=NOT_DELETED,
        )


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_index(
            "uq_products_meter_slug", sqlite_where=NOT_DELETED, postgresql_where=NOT_DELETED
        )
        batch.drop_column("meter_slug")
