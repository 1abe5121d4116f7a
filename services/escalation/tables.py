"""Escalation's schema: deadlines (rows, claimed with SKIP LOCKED; ``version`` fences stale timers)."""

from sqlalchemy import Column, Index, Integer, MetaData, Table, Text, UniqueConstraint, text

from shared.db.outbox import inbox_table, outbox_table
from shared.db.types import TZ, UUIDT

metadata = MetaData(schema="escalation")

deadlines = Table(
    "deadlines",
    metadata,
    Column("deadline_id", UUIDT, primary_key=True),
    Column("case_id", UUIDT, nullable=False, index=True),
    Column("dispatch_id", UUIDT, nullable=False),
    Column("owner_id", Text, nullable=False),
    Column("kind", Text, nullable=False),  # acknowledge | progress | resolve
    Column("due_at", TZ, nullable=False),
    Column("state", Text, nullable=False),  # armed | disarmed | fired
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
    UniqueConstraint("dispatch_id", "kind", name="uq_deadline_dispatch_kind"),
    Index("ix_deadlines_armed_due", "due_at", postgresql_where=text("state = 'armed'")),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
