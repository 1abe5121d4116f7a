"""case numbers a person can say (SB20261207-000123) and the address as the resident said it

Revision ID: intake_0005
Revises: intake_0004
Create Date: 2026-12-07 13:00:00

Cases stored before get their numbers here, by Shanghai day in order of receipt; each such
day's base is set so that a number drawn later that day follows them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0005"
down_revision: str | None = "intake_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE intake.case_number_seq AS bigint START 1")
    op.create_table(
        "case_number_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("base", sa.BigInteger, nullable=False),
        schema="intake",
    )
    op.add_column("cases", sa.Column("case_number", sa.Text), schema="intake")
    op.add_column("cases", sa.Column("address", sa.Text), schema="intake")
    op.execute(
        """
        WITH numbered AS (
          SELECT case_id, (received_at AT TIME ZONE 'Asia/Shanghai')::date AS day,
                 row_number() OVER (PARTITION BY (received_at AT TIME ZONE 'Asia/Shanghai')::date
                                    ORDER BY received_at, case_id) AS n
          FROM intake.cases
        )
        UPDATE intake.cases c
        SET case_number = 'SB' || to_char(numbered.day, 'YYYYMMDD') || '-' || lpad(numbered.n::text, 6, '0')
        FROM numbered WHERE numbered.case_id = c.case_id
        """
    )
    # The first nextval is 1 and a number is nextval - base, so a base of -count makes the
    # next number of that day count + 1.
    op.execute(
        """
        INSERT INTO intake.case_number_days (day, base)
        SELECT (received_at AT TIME ZONE 'Asia/Shanghai')::date, -count(*)
        FROM intake.cases GROUP BY 1
        """
    )
    op.create_index(
        "ux_intake_cases_case_number", "cases", ["case_number"], unique=True, schema="intake"
    )


def downgrade() -> None:
    op.drop_index("ux_intake_cases_case_number", table_name="cases", schema="intake")
    op.drop_column("cases", "address", schema="intake")
    op.drop_column("cases", "case_number", schema="intake")
    op.drop_table("case_number_days", schema="intake")
    op.execute("DROP SEQUENCE intake.case_number_seq")
