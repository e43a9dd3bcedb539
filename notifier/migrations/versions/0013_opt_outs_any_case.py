"""Email opt-outs are stored lower-cased (outbox.store.opt_out_address): fold the old ones.

Where two spellings of one address were both opted out, the oldest row stays.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMAIL = "channel = 'email'"


def upgrade() -> None:
    # The later of two spellings goes first, so the fold cannot meet the unique index.
    op.execute(
        f"DELETE FROM opt_outs WHERE {_EMAIL} AND EXISTS ("  # noqa: S608 - constants only
        f"SELECT 1 FROM opt_outs AS other WHERE other.{_EMAIL} "
        "AND lower(other.address) = lower(opt_outs.address) AND other.id < opt_outs.id)"
    )
    op.execute(f"UPDATE opt_outs SET address = lower(address) WHERE {_EMAIL}")  # noqa: S608


def downgrade() -> None:
    pass  # the original spelling is not kept; lower-cased opt-outs still work before 0013
