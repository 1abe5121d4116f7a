"""attachments: uploads and their links to cases

Photos, call recordings and documents (issue 19): who uploaded which bytes
(``attachment_uploads``, keyed by the bytes' SHA-256 and the uploader) and which are on
which case (``case_attachments``: the resident's from intake, progress, evidence). The
bytes themselves live in the attachment store, not here.

Revision ID: router_0006
Revises: router_0005
Create Date: 2026-12-07 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "router_0006"
down_revision: str | None = "router_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "attachment_uploads",
        sa.Column("attachment_id", sa.Text(), primary_key=True),
        sa.Column("uploaded_by", sa.Text(), primary_key=True),
        sa.Column("uploader_key", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_at", TZ, nullable=False),
        schema="router",
    )
    op.create_table(
        "case_attachments",
        sa.Column(
            "case_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("router.cases.case_id"),
            primary_key=True,
        ),
        sa.Column("attachment_id", sa.Text(), primary_key=True),
        sa.Column("kind", sa.Text(), primary_key=True),
        sa.Column("dispatch_id", postgresql.UUID(as_uuid=True)),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("attached_by", sa.Text(), nullable=False),
        sa.Column("attached_at", TZ, nullable=False),
        schema="router",
    )
    op.create_index(
        "ix_router_case_attachments_attachment",
        "case_attachments",
        ["attachment_id"],
        schema="router",
    )


def downgrade() -> None:
    op.drop_table("case_attachments", schema="router")
    op.drop_table("attachment_uploads", schema="router")
