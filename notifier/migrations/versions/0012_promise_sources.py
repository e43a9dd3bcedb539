"""A message about a promise finds it by its rebooking or status event: index both.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_promises_rebooking_id", "promises", ["rebooking_id"])
    op.create_index("ix_promises_status_event_id", "promises", ["status_event_id"])


def downgrade() -> None:
    op.drop_index("ix_promises_status_event_id", table_name="promises")
    op.drop_index("ix_promises_rebooking_id", table_name="promises")
