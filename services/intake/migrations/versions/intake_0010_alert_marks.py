"""alert marks: 已收到 / 已处理 of an early warning, per office

Revision ID: intake_0010
Revises: intake_0009
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "intake_0010"
down_revision: str | None = "intake_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_marks",
        sa.Column(
            "alert_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("intake.alerts.alert_id"),
            primary_key=True,
        ),
        sa.Column("owner_id", sa.Text(), primary_key=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("received_by", sa.Text(), nullable=False),
        sa.Column("handled_at", TZ),
        sa.Column("handled_by", sa.Text()),
        sa.Column("note", sa.Text()),
        schema="intake",
    )


def downgrade() -> None:
    op.drop_table("alert_marks", schema="intake")
