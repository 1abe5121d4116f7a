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
from shared.db.types import TZ, UUIDT

metadata = MetaData(schema="notifier")

endpoints = Table(
    "endpoints",
    metadata,
    Column("owner_id", Text, primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret_enc", LargeBinary, nullable=False),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
    Column("updated_at", TZ, nullable=False, server_default=func.now()),
)

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

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
