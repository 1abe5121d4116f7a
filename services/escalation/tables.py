"""Escalation's schema.

``deadlines``: one row per running clock, claimed with ``SKIP LOCKED`` at ``next_at`` (the
reminder time, then the due time); ``version`` fences stale timers. Kinds: ``acknowledge``,
``progress``, ``resolve`` (per dispatch), ``escalate.<clock>`` (the ladder step a clock
started) and ``report_in`` (per convened owner of a whistle). ``policy`` is frozen at arming.
``escalations``: one typed row per step up the ladder. ``whistles`` and ``whistle_members``:
who was convened, who reported in and when, and what was decided. ``extensions``: a
department's request for more time (延期) and its supervisor's decision.
"""

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from shared.db.outbox import inbox_table, outbox_table
from shared.db.types import JSON, TZ, UUIDT

metadata = MetaData(schema="escalation")

deadlines = Table(
    "deadlines",
    metadata,
    Column("deadline_id", UUIDT, primary_key=True),
    Column("case_id", UUIDT, nullable=False, index=True),
    Column("dispatch_id", UUIDT),
    Column("whistle_id", UUIDT),
    Column("owner_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("due_at", TZ, nullable=False),
    Column("remind_at", TZ),
    Column("reminded_at", TZ),
    Column("next_at", TZ, nullable=False),
    Column("level", Integer, nullable=False, server_default="0"),
    Column("policy", JSON),
    Column("state", Text, nullable=False),  # armed | disarmed | fired
    Column("fired_at", TZ),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
    UniqueConstraint("dispatch_id", "kind", name="uq_deadline_dispatch_kind"),
    UniqueConstraint("whistle_id", "owner_id", "kind", name="uq_deadline_whistle_owner_kind"),
    Index("ix_deadlines_armed_due", "due_at", postgresql_where=text("state = 'armed'")),
    Index("ix_deadlines_armed_next", "next_at", postgresql_where=text("state = 'armed'")),
)

escalations = Table(
    "escalations",
    metadata,
    Column("escalation_id", UUIDT, primary_key=True),
    Column("case_id", UUIDT, nullable=False, index=True),
    Column("dispatch_id", UUIDT),
    Column("whistle_id", UUIDT),
    Column("clock", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("from_owner_id", Text, nullable=False),
    Column("to_owner_id", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("skipped", JSON),
    Column("due_at", TZ),
    Column("created_at", TZ, nullable=False),
)

whistles = Table(
    "whistles",
    metadata,
    Column("whistle_id", UUIDT, primary_key=True),
    Column("case_id", UUIDT, nullable=False, index=True),
    Column("category", Text, nullable=False),
    Column("location", JSON, nullable=False),
    Column("blown_by", Text, nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("state", Text, nullable=False),  # open | decided
    Column("report_in_due_at", TZ, nullable=False),
    Column("lead_owner_id", Text),
    Column("co_handler_ids", ARRAY(Text)),
    Column("decided_by", Text),
    Column("decided_at", TZ),
    Column("created_at", TZ, nullable=False),
)

whistle_members = Table(
    "whistle_members",
    metadata,
    Column(
        "whistle_id",
        UUIDT,
        ForeignKey("escalation.whistles.whistle_id"),
        primary_key=True,
    ),
    Column("owner_id", Text, primary_key=True),
    Column("state", Text, nullable=False),  # convened | reported | missed
    Column("reported_at", TZ),
    Column("reported_by", Text),
)

extensions = Table(
    "extensions",
    metadata,
    Column("extension_id", UUIDT, primary_key=True),
    Column("case_id", UUIDT, nullable=False),
    Column("dispatch_id", UUIDT, nullable=False, index=True),
    Column("owner_id", Text, nullable=False),
    Column("working_days", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("resolve_due_at", TZ, nullable=False),
    Column("state", Text, nullable=False),  # pending | approved | refused
    Column("requested_at", TZ, nullable=False),
    Column("decided_by", Text),
    Column("decided_at", TZ),
    Column("new_resolve_due_at", TZ),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
