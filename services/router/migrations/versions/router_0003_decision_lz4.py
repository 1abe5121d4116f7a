"""routing decisions compressed with lz4

A routing decision keeps its whole explanation (every rule weighed and why it lost):
about 5 KB of JSON a case, which PostgreSQL compresses when it stores the row. Its
default method (pglz) made this table's insert the costliest statement per case on the
benchmark (68 µs a row); lz4 compresses as well for this text at a fraction of the CPU
(29 µs a row). Rows stored before keep their method; PostgreSQL reads both. A server
built without lz4 keeps pglz (the change is skipped, with a notice).

Revision ID: router_0003
Revises: router_0002
Create Date: 2026-12-01 15:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "router_0003"
down_revision: str | None = "router_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _set(method: str) -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
          ALTER TABLE router.routing_decisions ALTER COLUMN decision SET COMPRESSION {method};
        EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
          RAISE NOTICE 'compression % not available: routing decisions keep theirs', '{method}';
        END $$;
        """
    )


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("default")
