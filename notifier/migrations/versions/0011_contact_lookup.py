"""An SMS that comes in is matched to its parcels by the sender's number: index it.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_contact_points_kind_value", "contact_points", ["kind", "value"])


def downgrade() -> None:
    op.drop_index("ix_contact_points_kind_value", table_name="contact_points")
