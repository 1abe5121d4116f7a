"""find: what the router keeps to list and search cases, and its indexes

Issue 20. New columns on ``router.cases`` (filled from events the router consumes):
``external_id`` (the channel's own number), ``key_person``, ``rebound``, ``area_path``
(the location's most specific path, for area prefixes), ``search_text`` (numbers, title,
description, address: one trigram index finds any part of any of them), ``next_due_at``
(the nearest due time of an open dispatch, kept by a trigger on ``dispatches``),
``closed_at`` (kept by a trigger on the case's state), ``escalated_to`` and
``escalation_level`` (from ``case.escalated``), ``whistle_open`` (from ``whistle.blown``
until the lead is designated or the case ends).

``pg_trgm`` is a trusted extension (PostgreSQL 13+): the database's owner (``shaobao``,
which creates the test databases too) may create it without being superuser.

Revision ID: router_0007
Revises: router_0006
Create Date: 2026-12-09 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.auth.scope import location_path

revision: str = "router_0007"
down_revision: str | None = "router_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
OPEN = "('pending', 'acknowledged', 'in_progress', 'expired')"

NEXT_DUE = f"""
CREATE OR REPLACE FUNCTION router.refresh_next_due() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE due timestamptz;
BEGIN
  SELECT min(CASE WHEN d.acknowledged_at IS NULL THEN d.acknowledge_due_at ELSE d.resolve_due_at END)
    INTO due FROM router.dispatches d WHERE d.case_id = NEW.case_id AND d.state IN {OPEN};
  UPDATE router.cases SET next_due_at = due
   WHERE case_id = NEW.case_id AND next_due_at IS DISTINCT FROM due;
  RETURN NULL;
END $$;
---
CREATE TRIGGER dispatches_next_due
  AFTER INSERT OR UPDATE OF state, acknowledge_due_at, resolve_due_at ON router.dispatches
  FOR EACH ROW EXECUTE FUNCTION router.refresh_next_due();
"""

CLOSED_AT = """
CREATE OR REPLACE FUNCTION router.mark_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.state IN ('closed', 'merged') THEN
    IF OLD.state NOT IN ('closed', 'merged') THEN NEW.closed_at := NEW.updated_at; END IF;
    NEW.whistle_open := false;
  ELSE
    NEW.closed_at := NULL;
  END IF;
  RETURN NEW;
END $$;
---
CREATE TRIGGER cases_closed_at BEFORE UPDATE OF state ON router.cases
  FOR EACH ROW EXECUTE FUNCTION router.mark_closed();
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    _columns()
    _backfill()
    for statement in (NEXT_DUE + "---" + CLOSED_AT).split("---"):
        op.execute(statement)  # one statement at a time (asyncpg prepares each)
    _indexes()


def _columns() -> None:
    add = op.add_column
    add("cases", sa.Column("external_id", sa.Text()), schema="router")
    add("cases", sa.Column("key_person", sa.Boolean(), nullable=False,
                           server_default=sa.false()), schema="router")  # fmt: skip
    add("cases", sa.Column("rebound", sa.Boolean(), nullable=False,
                           server_default=sa.false()), schema="router")  # fmt: skip
    add("cases", sa.Column("area_path", sa.Text()), schema="router")
    add("cases", sa.Column("search_text", sa.Text()), schema="router")
    add("cases", sa.Column("next_due_at", TZ), schema="router")
    add("cases", sa.Column("closed_at", TZ), schema="router")
    add("cases", sa.Column("escalated_to", postgresql.ARRAY(sa.Text()), nullable=False,
                           server_default="{}"), schema="router")  # fmt: skip
    add("cases", sa.Column("escalation_level", sa.Text()), schema="router")
    add("cases", sa.Column("whistle_open", sa.Boolean(), nullable=False,
                           server_default=sa.false()), schema="router")  # fmt: skip


def _backfill() -> None:
    """Existing cases: their area path, searchable text, next due time and closing time."""
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT case_id, location FROM router.cases")).all()
    for case_id, location in rows:
        conn.execute(
            sa.text("UPDATE router.cases SET area_path = :p WHERE case_id = :i"),
            {"p": location_path(location), "i": case_id},
        )
    op.execute(
        "UPDATE router.cases SET search_text = concat_ws(' ', case_number, title, description,"
        " address)"
    )
    op.execute(f"""
        UPDATE router.cases c SET next_due_at = (
          SELECT min(CASE WHEN d.acknowledged_at IS NULL THEN d.acknowledge_due_at
                          ELSE d.resolve_due_at END)
            FROM router.dispatches d WHERE d.case_id = c.case_id AND d.state IN {OPEN})
    """)
    op.execute("UPDATE router.cases SET closed_at = updated_at WHERE state IN ('closed', 'merged')")


def _indexes() -> None:
    op.execute(
        "CREATE INDEX ix_router_cases_search_trgm ON router.cases"
        " USING gin (search_text public.gin_trgm_ops)"
    )
    op.execute("CREATE INDEX ix_router_cases_received ON router.cases (received_at, case_id)")
    op.execute(
        "CREATE INDEX ix_router_cases_deadline ON router.cases"
        " ((COALESCE(next_due_at, '9999-12-31 00:00:00+00'::timestamptz)), case_id)"
    )
    op.execute(
        "CREATE INDEX ix_router_cases_area ON router.cases"
        " (area_path text_pattern_ops, received_at)"
    )
    op.execute("CREATE INDEX ix_router_cases_channel ON router.cases (channel, received_at)")
    op.execute("CREATE INDEX ix_router_cases_petitioner ON router.cases (petitioner_ref)")
    op.execute("CREATE INDEX ix_router_cases_escalated ON router.cases USING gin (escalated_to)")
    op.execute(
        "CREATE INDEX ix_router_cases_overdue ON router.cases (next_due_at)"
        " WHERE next_due_at IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_router_dispatches_owner_case ON router.dispatches (owner_id, case_id)"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS dispatches_next_due ON router.dispatches")
    op.execute("DROP TRIGGER IF EXISTS cases_closed_at ON router.cases")
    op.execute("DROP FUNCTION IF EXISTS router.refresh_next_due()")
    op.execute("DROP FUNCTION IF EXISTS router.mark_closed()")
    op.execute("DROP INDEX IF EXISTS router.ix_router_dispatches_owner_case")
    for name in ("external_id", "key_person", "rebound", "area_path", "search_text",
                 "next_due_at", "closed_at", "escalated_to", "escalation_level", "whistle_open"):  # fmt: skip
        op.drop_column("cases", name, schema="router")
