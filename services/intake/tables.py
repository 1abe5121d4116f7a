"""Intake's schema: petitioners (the only place raw PII lives, encrypted), submissions,
channel references (every number a case is known by) and feedback."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
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
# Made in SQL by intake_0009 (a partial index on an expression): alembic's autogenerate
# cannot compare it, so its check leaves it alone.
metadata.info["unmanaged_indexes"] = frozenset({"ix_intake_cases_explained"})
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

# What each office did with an early warning it was told of (issue 20): 已收到 (received)
# and 已处理 (handled, with a note). One row per alert and office (intake_0010).
alert_marks = Table(
    "alert_marks",
    metadata,
    Column("alert_id", UUIDT, ForeignKey("intake.alerts.alert_id"), primary_key=True),
    Column("owner_id", Text, primary_key=True),
    Column("received_at", TZ, nullable=False),
    Column("received_by", Text, nullable=False),
    Column("handled_at", TZ),
    Column("handled_by", Text),
    Column("note", Text),
)

# The key-person registry (重点人员), one row per person (``petitioner_ref`` names the
# person: see ``person_links``), and what is done with them; every change is a row of
# ``key_person_events`` (intake_0008).
key_persons = Table(
    "key_persons",
    metadata,
    Column("petitioner_ref", Text, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("petitions_at_entry", Integer, nullable=False),
    Column("entered_at", TZ, nullable=False),
    Column("state", Text, nullable=False, server_default="active"),  # active | left
    Column("entered_by", Text, nullable=False, server_default="rule"),  # rule or a key's actor
    Column("review_due", Date),
    Column("left_at", TZ),
    Column("left_reason", Text),
    Index("ix_intake_key_persons_review", "state", "review_due"),
)

key_person_events = Table(
    "key_person_events",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("petitioner_ref", Text, nullable=False),
    Column("at", TZ, nullable=False),
    Column("actor", Text, nullable=False),
    # entered | reviewed | left | plan | visit | converted | merged
    Column("action", Text, nullable=False),
    Column("reason", Text),
    Column("detail", JSON),
    Column("dedupe", Text),  # a natural key that makes a retried request write nothing
    Index("ix_intake_key_person_events_person", "petitioner_ref", "seq"),
    UniqueConstraint("petitioner_ref", "dedupe", name="uq_intake_key_person_event_dedupe"),
)

key_person_plans = Table(  # 一人一策: every version kept, the newest is the plan
    "key_person_plans",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("petitioner_ref", Text, nullable=False),
    Column("matter", Text, nullable=False),
    Column("measures", JSON, nullable=False),
    Column("cadre", Text, nullable=False),  # 1+1+1: 社区干部
    Column("grid_worker", Text, nullable=False),  # 网格员
    Column("volunteer", Text, nullable=False),  # 志愿者或党员
    Column("review_on", Date, nullable=False),
    Column("made_by", Text, nullable=False),
    Column("made_at", TZ, nullable=False),
    Index("ix_intake_key_person_plans_person", "petitioner_ref", "seq"),
)

key_person_visits = Table(  # 上门走访, 节日慰问, 心理疏导, 回访
    "key_person_visits",
    metadata,
    Column("visit_id", UUIDT, primary_key=True),
    Column("petitioner_ref", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("visited_at", TZ, nullable=False),
    Column("visitors", JSON, nullable=False),
    Column("method", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("minutes", Text, nullable=False),
    Column("case_id", UUIDT),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", TZ, nullable=False),
    UniqueConstraint("petitioner_ref", "kind", "visited_at", name="uq_intake_key_person_visit"),
)

key_person_conversions = Table(  # 矛盾转化: the KPI counts these rows
    "key_person_conversions",
    metadata,
    Column("petitioner_ref", Text, primary_key=True),
    Column("role", Text, primary_key=True),  # council_member | supervisor | volunteer
    Column("since", Date, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", TZ, nullable=False),
)

# 一人多号: identity refs (phone, ID number, name + address; keyed hashes) linked into one
# person, named by ``person_ref`` (always a petitioner ref). A ref with no row is a person
# of its own; a person of several refs has a row for each, its own included.
person_links = Table(
    "person_links",
    metadata,
    Column("ref", Text, primary_key=True),
    Column("person_ref", Text, nullable=False, index=True),
    Column("kind", Text, nullable=False),  # phone | id_number | name_address | petitioner
    Column("linked_at", TZ, nullable=False),
    Column("source", Text, nullable=False),  # submission | merge (a staff action)
)

# What channels uploaded (photos, call recordings, documents) before submitting; a
# submission names them and they travel on case.received to the router, which keeps
# them on the case (the bytes stay in the attachment store).
attachment_uploads = uploads_table(metadata)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
