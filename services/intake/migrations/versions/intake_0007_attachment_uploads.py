"""attachment uploads

What channels uploaded before submitting (issue 19): the bytes' SHA-256, the uploader, the
cleaned name and the type sniffed from the bytes. The bytes live in the attachment store.

Revision ID: intake_0007
Revises: intake_0006
Create Date: 2026-12-07 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "intake_0007"
down_revision: str | None = "intake_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachment_uploads",
        sa.Column("attachment_id", sa.Text(), primary_key=True),
        sa.Column("uploaded_by", sa.Text(), primary_key=True),
        sa.Column("uploader_key", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        schema="intake",
    )


def downgrade() -> None:
    op.drop_table("attachment_uploads", schema="intake")
