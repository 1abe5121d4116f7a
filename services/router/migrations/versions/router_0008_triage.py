"""triage: the dispatchers' queue and the labelled examples people make

``triage_items``: a case waiting for a person to decide its matter or place (待派单), with
intake's suggestions; ``triage_examples``: every human choice of a matter, for training.

Revision ID: router_0008
Revises: router_0007
Create Date: 2026-12-07 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "router_0008"
down_revision: str | None = "router_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
UUID = postgresql.UUID(as_uuid=True)
JSON = postgresql.JSONB()


def upgrade() -> None:
    op.create_table(
        "triage_items",
        sa.Column("case_id", UUID, sa.ForeignKey("router.cases.case_id"), primary_key=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("desk_owner_id", sa.Text(), nullable=False),
        sa.Column("entered_at", TZ, nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("triage", JSON),
        sa.Column("decided_by", sa.Text()),
        sa.Column("decided_at", TZ),
        sa.Column("decision", JSON),
        schema="router",
    )
    op.create_index(
        "ix_router_triage_open", "triage_items", ["due_at"], schema="router",
        postgresql_where=sa.text("state = 'open'"),
    )  # fmt: skip
    op.create_table(
        "triage_examples",
        sa.Column("example_id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("case_id", UUID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("location", JSON),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("suggested", sa.Text()),
        sa.Column("model_version", sa.Text()),
        sa.Column("created_at", TZ, nullable=False),
        schema="router",
    )
    op.create_index(
        "ix_router_triage_examples_case_id", "triage_examples", ["case_id"], schema="router"
    )


def downgrade() -> None:
    op.drop_table("triage_examples", schema="router")
    op.drop_table("triage_items", schema="router")
