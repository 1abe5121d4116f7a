"""Intake's schema: petitioners (the only place raw PII lives, encrypted), submissions,
channel references (every number a case is known by) and feedback."""

from sqlalchemy import Column, Index, LargeBinary, MetaData, Table, Text, func

from shared.db.outbox import inbox_table, outbox_table
from shared.db.types import JSON, TZ, UUIDT

metadata = MetaData(schema="intake")

petitioners = Table(
    "petitioners",
    metadata,
    Column("petitioner_ref", Text, primary_key=True),
    Column("name_enc", LargeBinary),
    Column("phone_enc", LargeBinary),
    Column("id_number_enc", LargeBinary),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
    Column("updated_at", TZ, nullable=False, server_default=func.now()),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", UUIDT, primary_key=True),
    Column("channel", Text, nullable=False),
    Column("external_id", Text),
    Column("petitioner_ref", Text),
    Column("category", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("location", JSON, nullable=False),
    Column("urgency", Text, nullable=False),
    Column("received_by", Text),
    Column("status", Text, nullable=False),
    Column("status_detail", JSON),
    Column("status_at", TZ, nullable=False),
    Column("received_at", TZ, nullable=False),
    Index("ix_intake_cases_petitioner", "petitioner_ref", "category"),
)

case_refs = Table(
    "case_refs",
    metadata,
    Column("channel", Text, primary_key=True),
    Column("ref", Text, primary_key=True),
    Column("kind", Text, primary_key=True),  # external_id | idempotency_key
    Column("case_id", UUIDT, nullable=False, index=True),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
