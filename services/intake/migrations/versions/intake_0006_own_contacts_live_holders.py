"""each submission's own contact, live dispatch holders, suggestion reasons

Revision ID: intake_0006
Revises: intake_0005
Create Date: 2027-01-12 10:00:00

Issue 17. A submission no longer rewrites the petitioner's record: the contact it gave is
kept with its case (``cases.*_enc``) or its link (``duplicate_links.*_enc``), and a
department's reveal shows the case's own. Existing cases take their petitioner's record
as it stands (the best knowledge there is of what was given with them).

``cases.holders`` maps each dispatch intake heard of to its owner (null once returned or
cancelled): only a live dispatch's owner sees the petitioner. Existing cases knew only
``status_detail.owners``; each becomes an entry keyed by the owner id itself, ended by
that owner's first return or cancellation.

``duplicate_suggestions.reason`` tells a look-alike of an anonymous submission
(``similar_text``) from a number a channel named for another matter (``related_ref``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "intake_0006"
down_revision: str | None = "intake_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEALED = ("name_enc", "phone_enc", "id_number_enc", "email_enc")


def upgrade() -> None:
    for table in ("cases", "duplicate_links"):
        for name in SEALED:
            op.add_column(table, sa.Column(name, sa.LargeBinary(), nullable=True), schema="intake")
    op.add_column(
        "cases",
        sa.Column("holders", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema="intake",
    )
    op.add_column(
        "duplicate_suggestions",
        sa.Column("reason", sa.Text(), server_default="similar_text", nullable=False),
        schema="intake",
    )
    sets = ", ".join(f"{n} = p.{n}" for n in SEALED)
    op.execute(
        f"UPDATE intake.cases c SET {sets} FROM intake.petitioners p"
        " WHERE c.petitioner_ref = p.petitioner_ref"
    )
    op.execute(
        f"UPDATE intake.duplicate_links d SET {sets} FROM intake.petitioners p"
        " WHERE d.petitioner_ref = p.petitioner_ref"
    )
    # Who holds a live dispatch now. The old status_detail.owners never lost an owner on a
    # return or cancel, so it would give back access to departments that returned a case.
    # The router's dispatches (same database, another schema) say which are live; read once
    # here, on upgrade only. Without them (intake alone) nobody is a holder: a department
    # sees the petitioner again when the router next dispatches to it (fail closed).
    op.execute(
        """
        DO $$ BEGIN
          IF to_regclass('router.dispatches') IS NOT NULL THEN
            UPDATE intake.cases c SET holders = live.holders
            FROM (SELECT case_id, jsonb_object_agg(dispatch_id::text, owner_id) AS holders
                  FROM router.dispatches WHERE state NOT IN ('returned', 'cancelled')
                  GROUP BY case_id) AS live
            WHERE live.case_id = c.case_id;
          END IF;
        END $$
        """
    )


def downgrade() -> None:
    op.drop_column("duplicate_suggestions", "reason", schema="intake")
    op.drop_column("cases", "holders", schema="intake")
    for table in ("cases", "duplicate_links"):
        for name in SEALED:
            op.drop_column(table, name, schema="intake")
