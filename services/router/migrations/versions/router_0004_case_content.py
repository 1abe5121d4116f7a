"""the case's content for those who handle it: number, description, address

Revision ID: router_0004
Revises: router_0003
Create Date: 2026-12-07 13:10:00

Cases stored before keep NULL here (their description stays readable in intake).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "router_0004"
down_revision: str | None = "router_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("case_number", sa.Text), schema="router")
    op.add_column("cases", sa.Column("description", sa.Text), schema="router")
    op.add_column("cases", sa.Column("address", sa.Text), schema="router")
    op.create_index("ix_router_cases_case_number", "cases", ["case_number"], schema="router")


def downgrade() -> None:
    op.drop_index("ix_router_cases_case_number", table_name="cases", schema="router")
    for column in ("address", "description", "case_number"):
        op.drop_column("cases", column, schema="router")
