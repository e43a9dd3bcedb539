"""privacy: shipments.anonymised_at, the retention job's once-only marker, and its index.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "shipments", sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_shipments_to_anonymise",
        "shipments",
        ["status_occurred_at"],
        sqlite_where=sa.text("anonymised_at IS NULL"),
        postgresql_where=sa.text("anonymised_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_shipments_to_anonymise", table_name="shipments")
    # Not in a batch, as in 0007: SQLite 3.35+ drops a column in place.
    op.drop_column("shipments", "anonymised_at")
