"""case facts keep what the resident's attachments are

The dispatch webhook links a case's photos, recordings and documents (issue 19): the
notifier keeps their ids, names, types and sizes from ``case.received``, never the bytes.

Revision ID: notifier_0005
Revises: notifier_0004
Create Date: 2026-12-07 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "notifier_0005"
down_revision: str | None = "notifier_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "case_facts", sa.Column("attachments", postgresql.JSONB(), nullable=True), schema="notifier"
    )


def downgrade() -> None:
    op.drop_column("case_facts", "attachments", schema="notifier")
