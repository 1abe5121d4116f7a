"""Intake's schema: petitioners (the only place raw PII lives, encrypted), submissions,
channel references (every number a case is known by) and feedback."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
)

from shared.attachments.tables import uploads_table
from shared.db.outbox import inbox_table, outbox_table
from shared.db.types import JSON, TZ, UUIDT

metadata = MetaData(schema="intake")
SEALED_CONTACT = ("name_enc", "phone_enc", "id_number_enc", "email_enc")


def _sealed_contact() -> list[Column[bytes]]:
    return [Column(name, LargeBinary) for name in SEALED_CONTACT]


petitioners = Table(
    "petitioners",
    metadata,
    Column("petitioner_ref", Text, primary_key=True),
    Column("name_enc", LargeBinary),
    Column("phone_enc", LargeBinary),
    Column("id_number_enc", LargeBinary),
    Column("email_enc", LargeBinary),
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
    Column("community", Text),  # full paths of the location levels, for matching and alerts
    Column("grid", Text),
    Column("compound", Text),
    Column("key_person", Boolean, nullable=False, server_default="false"),
    Column("case_number", Text),  # SB20261207-000123 (services/intake/case_numbers.py)
    Column("address", Text),  # as the resident said it: 小区, 楼号, 单元, 门牌
    Column("campaign_id", Text),  # 专项排查 the case was found in (intake_0009)
    Index("ux_intake_cases_case_number", "case_number", unique=True),
    # The contact given with this submission (encrypted): what a reveal shows (issue 17).
    *_sealed_contact(),
    # dispatch id → owner id of each dispatch intake heard of; null once returned or
    # cancelled. Only owners with a live dispatch see the petitioner (issue 17).
    Column("holders", JSON),
    Index("ix_intake_cases_petitioner", "petitioner_ref", "category"),
    Index("ix_intake_cases_compound", "compound", "category", "received_at"),
    Index("ix_intake_cases_grid", "grid", "category", "received_at"),
    Index("ix_intake_cases_community", "community", "category", "received_at"),
    # Alert counts: the cases of one place within a window (intake_0004).
    Index("ix_intake_cases_compound_time", "compound", "received_at"),
    Index("ix_intake_cases_grid_time", "grid", "received_at"),
    Index("ix_intake_cases_community_time", "community", "received_at"),
)

case_number_days = Table(
    "case_number_days",
    metadata,
    Column("day", Date, primary_key=True),  # Shanghai day
    Column("base", BigInteger, nullable=False),  # the sequence value its numbers count from
)

case_refs = Table(
    "case_refs",
    metadata,
    Column("channel", Text, primary_key=True),
    Column("ref", Text, primary_key=True),
    Column("kind", Text, primary_key=True),  # external_id | idempotency_key
    Column("case_id", UUIDT, nullable=False, index=True),
    Column("linked", Boolean, nullable=False, server_default="false"),  # 重复件: not the first
    Column("created_at", TZ, nullable=False, server_default=func.now()),
)

duplicate_links = Table(
    "duplicate_links",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("case_id", UUIDT, nullable=False, index=True),
    Column("channel", Text, nullable=False),
    Column("ref", Text),
    Column("petitioner_ref", Text, index=True),
    Column("reason", Text, nullable=False),  # related_ref | same_petitioner
    Column("linked_at", TZ, nullable=False),
    *_sealed_contact(),  # the contact given with the linked submission
)

duplicate_suggestions = Table(
    "duplicate_suggestions",
    metadata,
    Column("case_id", UUIDT, primary_key=True),
    Column("suggested_case_id", UUIDT, primary_key=True),
    Column("score", Float, nullable=False),
    # similar_text (anonymous look-alike) | related_ref (named, but not the same matter)
    Column("reason", Text, nullable=False, server_default="similar_text"),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", UUIDT, primary_key=True),
    Column("rule_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("priority", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("place", Text, nullable=False),
    Column("window_start", TZ, nullable=False),
    Column("window_end", TZ, nullable=False),
    Column("case_count", Integer, nullable=False),
    Column("case_ids", JSON, nullable=False),
    Column("notify", JSON, nullable=False),
    Column("convene", JSON, nullable=False),
    Column("raised_at", TZ, nullable=False),
    UniqueConstraint("rule_id", "place", "window_start", name="uq_intake_alert_window"),
    Index("ix_intake_alerts_rule_place", "rule_id", "place", "window_end"),
)

key_persons = Table(
    "key_persons",
    metadata,
    Column("petitioner_ref", Text, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("petitions_at_entry", Integer, nullable=False),
    Column("entered_at", TZ, nullable=False),
)

# What channels uploaded (photos, call recordings, documents) before submitting; a
# submission names them and they travel on case.received to the router, which keeps
# them on the case (the bytes stay in the attachment store).
attachment_uploads = uploads_table(metadata)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
