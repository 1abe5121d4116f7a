"""Router's schema: cases, dispatches, the typed timeline and routing decisions."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY  # the generic one has no contains()

from shared.attachments.tables import uploads_table
from shared.db.outbox import inbox_table, outbox_table
from shared.db.types import JSON, TZ, UUIDT

metadata = MetaData(schema="router")
# Made in SQL by router_0007 (trigram GIN, an expression, text_pattern_ops, a partial
# index): alembic's autogenerate cannot compare them, so its check leaves them alone.
metadata.info["unmanaged_indexes"] = frozenset(
    {
        "ix_router_cases_search_trgm", "ix_router_cases_received", "ix_router_cases_deadline",
        "ix_router_cases_area", "ix_router_cases_channel", "ix_router_cases_petitioner",
        "ix_router_cases_escalated", "ix_router_cases_overdue", "ix_router_dispatches_owner_case",
    }
)  # fmt: skip

cases = Table(
    "cases",
    metadata,
    Column("case_id", UUIDT, primary_key=True),
    Column("state", Text, nullable=False),
    Column("close_kind", Text),
    Column("channel", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("location", JSON, nullable=False),
    Column("tier", Text),
    Column("urgency", Text, nullable=False),
    Column("rule_id", Text),
    Column("ruleset_version", Text),
    Column("petitioner_ref", Text),
    Column("received_at", TZ, nullable=False),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
    Column("updated_at", TZ, nullable=False, server_default=func.now()),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("case_number", Text),  # 诉求编号, from intake (router_0004)
    Column("description", Text),  # the complaint as the resident told it (numbers masked)
    Column("address", Text),  # the address as the resident said it
    # What lists and searches need (router_0007; docs/architecture.md "Finding cases")
    Column("external_id", Text),  # the channel's own work-order number
    Column("key_person", Boolean, nullable=False, server_default=false()),
    Column("rebound", Boolean, nullable=False, server_default=false()),  # 回弹件
    Column("area_path", Text),  # the location's most specific path (d01.s01.c01)
    Column("search_text", Text),  # numbers, title, description, address (trigram index)
    Column("next_due_at", TZ),  # nearest due time of an open dispatch (a trigger keeps it)
    Column("closed_at", TZ),  # set by a trigger when the state becomes closed or merged
    Column("escalated_to", ARRAY(Text), nullable=False, server_default="{}"),
    Column("escalation_level", Text),  # the last level case.escalated reached
    Column("whistle_open", Boolean, nullable=False, server_default=false()),
    # reopened once for a second handling (二次办理; router_0009)
    Column("second_handling", Boolean, nullable=False, server_default=false()),
    Index("ix_router_cases_state", "state"),
    Index("ix_router_cases_case_number", "case_number"),
)

dispatches = Table(
    "dispatches",
    metadata,
    Column("dispatch_id", UUIDT, primary_key=True),
    Column("case_id", UUIDT, ForeignKey("router.cases.case_id"), nullable=False, index=True),
    Column("owner_id", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("rule_id", Text),
    Column("ruleset_version", Text, nullable=False),
    Column("policy", JSON, nullable=False),
    Column("acknowledge_due_at", TZ, nullable=False),
    Column("resolve_due_at", TZ, nullable=False),
    Column("progress_due_at", TZ),
    Column("acknowledged_at", TZ),
    Column("resolved_at", TZ),
    Column("outcome", Text),  # what the owner reported on resolving (router_0009)
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Index("ix_router_dispatches_owner_state", "owner_id", "state"),
)

timeline = Table(
    "timeline",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("case_id", UUIDT, nullable=False, index=True),
    Column("dispatch_id", UUIDT),
    Column("at", TZ, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("from_state", Text),
    Column("to_state", Text),
    Column("reason", Text),
    Column("rule_version", Text),
    Column("detail", JSON),
)

routing_decisions = Table(
    "routing_decisions",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("case_id", UUIDT, nullable=False, index=True),
    Column("decided_at", TZ, nullable=False),
    Column("ruleset_version", Text, nullable=False),
    Column("decision", JSON, nullable=False),
)

action_requests = Table(
    "action_requests",
    metadata,
    Column("key_id", UUIDT, primary_key=True),
    Column("idempotency_key", Text, primary_key=True),
    Column("dispatch_id", UUIDT, nullable=False),
    Column("action", Text, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
    Column("request_hash", Text),  # sha256 of the body: same key, other body = 422
)

attachment_uploads = uploads_table(metadata)

# An attachment on a case: the resident's (kind intake, from case.received), a progress
# report's, or a resolution's evidence (办结凭证、书面承诺). The name and type are copied
# from the upload, so a later upload of the same bytes under another name changes nothing.
case_attachments = Table(
    "case_attachments",
    metadata,
    Column("case_id", UUIDT, ForeignKey("router.cases.case_id"), primary_key=True),
    Column("attachment_id", Text, primary_key=True),
    Column("kind", Text, primary_key=True),  # intake | progress | evidence
    Column("dispatch_id", UUIDT),
    Column("filename", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("attached_by", Text, nullable=False),
    Column("attached_at", TZ, nullable=False),
    Index("ix_router_case_attachments_attachment", "attachment_id"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

# The dispatchers' queue (待派单, issue 21): a case whose matter or place a person must
# decide — a free-text submission the model was unsure of or whose place is unknown, or a
# whistle that could convene no one. One row per case; a case that comes back is open again.
triage_items = Table(
    "triage_items",
    metadata,
    Column("case_id", UUIDT, ForeignKey("router.cases.case_id"), primary_key=True),
    Column("state", Text, nullable=False),  # open | decided
    Column("source", Text, nullable=False),  # free_text | unconvened
    Column("reason", Text, nullable=False),
    Column("desk_owner_id", Text, nullable=False),  # whose queue (its ladder escalates it)
    Column("entered_at", TZ, nullable=False),
    Column("due_at", TZ, nullable=False),
    Column("triage", JSON),  # intake's TriageInfo: suggestions, place, model version
    Column("decided_by", Text),
    Column("decided_at", TZ),
    Column("decision", JSON),  # category, location, reason
    Index("ix_router_triage_open", "due_at", postgresql_where=text("state = 'open'")),
)

# Every human choice of a matter (a triage pick, a reclassification, a return naming the
# right matter) as a labelled example: `shaobao triage train --from-cases` learns from them.
triage_examples = Table(
    "triage_examples",
    metadata,
    Column("example_id", BigInteger, Identity(), primary_key=True),
    Column("case_id", UUIDT, nullable=False, index=True),
    Column("text", Text, nullable=False),  # title and description (numbers masked)
    Column("category", Text, nullable=False),
    Column("location", JSON),
    Column("source", Text, nullable=False),  # triage | reclassify | return
    Column("actor", Text, nullable=False),
    Column("suggested", Text),  # the model's top category, when it made one
    Column("model_version", Text),
    Column("created_at", TZ, nullable=False),
)
