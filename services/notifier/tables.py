"""Notifier's schema: endpoints, deliveries (one per recipient per event) and attempts."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from shared.db.outbox import inbox_table, outbox_table
from shared.db.types import JSON, TZ, UUIDT

metadata = MetaData(schema="notifier")

endpoints = Table(
    "endpoints",
    metadata,
    Column("owner_id", Text, primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret_enc", LargeBinary, nullable=False),
    Column("active", Boolean, nullable=False, server_default="true"),
    # webhook (signed HTTP POST) | email (url is mailto:) | petitioner (SMS/email via intake)
    Column("kind", Text, nullable=False, server_default="webhook"),
    # circuit breaker, in the database so every replica sees the same state
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("open_until", TZ),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
    Column("updated_at", TZ, nullable=False, server_default=func.now()),
)

# The delivery worker's name for HandlerContext.wake: a handler that wrote a due delivery
# wakes it once the transaction commits (services/notifier/worker.py).
DELIVERIES_POLLER = "deliveries"

deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_id", UUIDT, primary_key=True),
    Column("event_id", UUIDT, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("case_id", UUIDT, index=True),
    Column("dispatch_id", UUIDT),
    Column("owner_id", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", TZ, nullable=False),
    Column("locked_until", TZ),
    Column("last_error", Text),
    Column("delivered_at", TZ),
    Column("created_at", TZ, nullable=False),
    UniqueConstraint("event_id", "owner_id", name="uq_delivery_event_owner"),
    Index("ix_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("delivery_id", UUIDT, nullable=False, index=True),
    Column("at", TZ, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
)

case_facts = Table(
    "case_facts",
    metadata,
    Column("case_id", UUIDT, primary_key=True),
    Column("channel", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("location", JSON, nullable=False),
    Column("urgency", Text, nullable=False),
    Column("tier", Text),
    Column("petitioner_ref", Text),  # a keyed hash; the contact itself stays in intake
    Column("received_by", Text),  # 首问负责人: the staff member who took it tracks the case
    Column("received_at", TZ, nullable=False),
    Column("case_number", Text),  # 诉求编号 (notifier_0004)
    Column("external_id", Text),  # the channel's own work-order number
    Column("title", Text),
    Column("description", Text),  # numbers in it masked by intake
    Column("address", Text),  # as the resident said it
    Column("attachments", JSON),  # what the resident's files are, never bytes (notifier_0005)
)

notices = Table(
    "notices",
    metadata,
    Column("case_id", UUIDT, primary_key=True),
    Column("category", Text, nullable=False),
    Column("location", JSON, nullable=False),  # down to compound, never below
    Column("tier", Text),
    Column("urgency", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("resolved_at", TZ, nullable=False),
    Column("closed_kind", Text),
    Column("rating", Text),
    Index("ix_notices_resolved_at", "resolved_at"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
