"""what a department, a channel and a petitioner read of a case: numbers, title, description,
address

Revision ID: notifier_0004
Revises: notifier_0003
Create Date: 2026-12-07 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "notifier_0004"
down_revision: str | None = "notifier_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("case_number", "external_id", "title", "description", "address")


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column("case_facts", sa.Column(column, sa.Text), schema="notifier")


def downgrade() -> None:
    for column in reversed(COLUMNS):
        op.drop_column("case_facts", column, schema="notifier")
