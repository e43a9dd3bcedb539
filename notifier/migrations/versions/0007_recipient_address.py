"""The recipient's street address, for the depot only: a dispute to act on, the day's bookings.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("shipments", sa.Column("recipient_address", sa.String(length=300), nullable=True))


def downgrade() -> None:
    # Not in a batch: on SQLite a batch drop copies the table, and dropping the old copy
    # fails the foreign keys that point at shipments. SQLite 3.35+ drops a column in place.
    op.drop_column("shipments", "recipient_address")
