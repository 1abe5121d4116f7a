"""action requests remember what was asked

A retried department action with the same ``Idempotency-Key`` answers the first result;
the same key with a different body is refused (422) instead of answering a result that
was not asked for. Rows stored before have no fingerprint and keep answering any retry.

Revision ID: router_0005
Revises: router_0004
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "router_0005"
down_revision: str | None = "router_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "action_requests", sa.Column("request_hash", sa.Text(), nullable=True), schema="router"
    )


def downgrade() -> None:
    op.drop_column("action_requests", "request_hash", schema="router")
