"""case facts as columns: the lead's outcome on its dispatch, a second handling on the case

``dispatches.outcome``: what the owner reported on resolving (resolved / explained /
referred), which the case's close kind follows; ``cases.second_handling``: the case was
reopened once for a second handling (二次办理). The feedback handler read both back out of
the timeline's JSON; existing rows are filled from it here.

Revision ID: router_0009
Revises: router_0008
Create Date: 2026-12-15 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "router_0009"
down_revision: str | None = "router_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL_OUTCOME = """
UPDATE router.dispatches d SET outcome = t.detail->>'outcome'
FROM (SELECT DISTINCT ON (dispatch_id) dispatch_id, detail FROM router.timeline
      WHERE action = 'resolved' AND dispatch_id IS NOT NULL ORDER BY dispatch_id, seq DESC) t
WHERE t.dispatch_id = d.dispatch_id AND d.state = 'resolved'
"""
BACKFILL_SECOND = """
UPDATE router.cases c SET second_handling = true
WHERE EXISTS (SELECT 1 FROM router.timeline t WHERE t.case_id = c.case_id AND t.action = 'reopened')
"""


def upgrade() -> None:
    op.add_column("dispatches", sa.Column("outcome", sa.Text(), nullable=True), schema="router")
    op.add_column(
        "cases",
        sa.Column("second_handling", sa.Boolean(), nullable=False, server_default=sa.false()),
        schema="router",
    )
    op.execute(BACKFILL_OUTCOME)
    op.execute(BACKFILL_SECOND)


def downgrade() -> None:
    op.drop_column("cases", "second_handling", schema="router")
    op.drop_column("dispatches", "outcome", schema="router")
