"""Transactional outbox and inbox tables, one pair in each service's schema.

The outbox row is written in the same transaction as the state change; the relay
(:mod:`shared.messaging.relay`) publishes it. The inbox row ``(consumer, event_id)`` is
inserted in the same transaction as a consumer's effect, so a redelivery changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    Identity,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    TextClause,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.contracts.envelope import Envelope
from shared.db.batch import insert_rows
from shared.db.types import TZ, UUIDT


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("event_id", UUIDT, nullable=False, unique=True),
        Column("routing_key", Text, nullable=False),
        Column("case_id", UUIDT),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", TZ, nullable=False, server_default=func.now()),
        Column("published_at", TZ),
        Index("ix_outbox_unpublished", "seq", postgresql_where=text("published_at IS NULL")),
    )


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", Text, primary_key=True),
        Column("event_id", UUIDT, primary_key=True),
        Column("event_type", Text, nullable=False),
        Column("processed_at", TZ, nullable=False, server_default=func.now()),
    )


async def write_events(conn: AsyncConnection, outbox: Table, events: Sequence[Envelope]) -> None:
    """Stage events for publication in the caller's transaction (one array insert)."""
    rows = [
        {"event_id": e.id, "routing_key": e.type, "case_id": e.case_id, "body": e.to_bytes()}
        for e in events
    ]
    await insert_rows(conn, outbox, rows)


async def claim_inbox(
    conn: AsyncConnection, inbox: Table, consumer: str, event_id: UUID, event_type: str
) -> bool:
    """Record the event as processed; False when this consumer already processed it."""
    stmt = (
        pg_insert(inbox)
        .values(consumer=consumer, event_id=event_id, event_type=event_type)
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
    )
    return (await conn.execute(stmt)).first() is not None


async def claim_inbox_many(
    conn: AsyncConnection, inbox: Table, consumer: str, events: Sequence[tuple[UUID, str]]
) -> set[UUID]:
    """Record a batch of events as processed; returns the ids not processed before."""
    if not events:
        return set()
    unique = dict(events)
    rows = await conn.execute(
        _statement(inbox, _CLAIM),
        {"consumer": consumer, "ids": list(unique), "types": list(unique.values())},
    )
    return {r.event_id for r in rows}


# Batch statements over arrays (unnest): one statement text whatever the batch size, so
# each is prepared once per connection. A multi-row VALUES list is a new statement for
# every row count, and SQLAlchemy builds and hashes it per call.
_CLAIM = (
    "INSERT INTO {table} (consumer, event_id, event_type)"
    " SELECT :consumer, e.id, e.type"
    " FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS text[])) AS e(id, type)"
    " ON CONFLICT DO NOTHING RETURNING event_id"
)
_MARK_SENT = "UPDATE {table} SET published_at = :at WHERE seq = ANY(CAST(:seqs AS bigint[]))"


@cache
def _statement(table: Table, template: str) -> TextClause:
    return text(template.format(table=table.fullname))


def mark_sent_statement(outbox: Table) -> TextClause:
    """``UPDATE outbox SET published_at = :at WHERE seq = ANY(:seqs)``, built once."""
    return _statement(outbox, _MARK_SENT)
