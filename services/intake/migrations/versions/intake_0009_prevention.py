"""prevention work: grid workers, patrols, risks, campaigns, return visits (issue 23, part B)

Grid workers and their daily patrols (每日一巡查), the risk register (矛盾隐患记录表),
quarterly campaigns (专项排查) with the households each area is to cover, the return visits
to explained closures (回头看), and a campaign tag on cases.

Written beside part A (key persons, ``intake_0008``) and chained after it on merging.
Nothing here touches part A's tables.

Revision ID: intake_0009
Revises: intake_0008
Create Date: 2026-12-09 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "intake_0009"
down_revision: str | None = "intake_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
JSON = postgresql.JSONB()
UUID = postgresql.UUID(as_uuid=True)
S = "intake"


def upgrade() -> None:
    op.create_table(
        "grid_workers",
        sa.Column("worker_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_index("ix_intake_grid_workers_path", "grid_workers", ["path"], schema=S)
    op.create_table(
        "patrols",
        sa.Column("patrol_id", UUID, primary_key=True),
        sa.Column("worker_id", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("households_visited", sa.Integer, nullable=False),
        sa.Column("minutes", sa.Integer),
        sa.Column("campaign_id", sa.Text),
        sa.Column("findings", JSON, nullable=False),
        sa.Column("mediations", JSON, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.UniqueConstraint("worker_id", "path", "day", name="uq_intake_patrol_day"),
        schema=S,
    )
    op.create_index("ix_intake_patrols_path_day", "patrols", ["path", "day"], schema=S)
    op.create_table(
        "risks",
        sa.Column("risk_id", UUID, primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("location", JSON, nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("category", sa.Text),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("seen_by", sa.Text, nullable=False),
        sa.Column("seen_on", sa.Date, nullable=False),
        sa.Column("follow_up_on", sa.Date, nullable=False),
        sa.Column("campaign_id", sa.Text),
        sa.Column("patrol_id", UUID),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text),
        sa.Column("case_id", UUID),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("closed_at", TZ),
        sa.UniqueConstraint("created_by", "idempotency_key", name="uq_intake_risk_idempotency"),
        schema=S,
    )
    op.create_index("ix_intake_risks_path", "risks", ["path", "seen_on"], schema=S)
    op.create_index("ix_intake_risks_due", "risks", ["state", "follow_up_on"], schema=S)
    op.create_table(
        "campaigns",
        sa.Column("campaign_id", sa.Text, primary_key=True),
        sa.Column("theme", sa.Text, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        sa.Column("areas", JSON, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "revisits",
        sa.Column("case_id", UUID, primary_key=True),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("rebound_case_id", UUID),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        schema=S,
    )
    op.add_column("cases", sa.Column("campaign_id", sa.Text), schema=S)
    # 回头看 lists explained closures by when they closed.
    op.create_index(
        "ix_intake_cases_explained",
        "cases",
        ["status_at"],
        schema=S,
        postgresql_where=sa.text(
            "status = 'closed' AND status_detail ->> 'close_kind' = 'explained'"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_intake_cases_explained", table_name="cases", schema=S)
    op.drop_column("cases", "campaign_id", schema=S)
    for table in ("revisits", "campaigns", "risks", "patrols", "grid_workers"):
        op.drop_table(table, schema=S)
