"""The one shape of a transaction's unit of work, for every service.

A :class:`UnitOfWork` is one transaction: its connection, its time, the service's typed
dependencies (``deps``), the event that caused it (a consumer's; None for an API action
or a poller), the events it emits and the rows it defers. Its owner (the consumer, the
deadline scanner, a route) opens and commits the transaction; :meth:`UnitOfWork.flush`
writes the deferred rows and the staged events into it.

The consumer's :class:`~shared.messaging.consumer.HandlerContext`, the router's sink
(:class:`~services.router.unit_of_work.OwnSink`, under its ``RouterUnit``) and
escalation's :class:`~services.escalation.fire_context.FireContext` are this class; what
batching they do (a consumer batch's one array insert per table, the scanner's
set-based firing) stays behind :meth:`defer`, :meth:`emit` and their repositories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.contracts.envelope import Envelope, make_envelope
from shared.db.batch import Deferred, flush_deferred
from shared.db.outbox import write_events

D = TypeVar("D")


@dataclass(kw_only=True, eq=False)
class UnitOfWork(Generic[D]):
    """One transaction: connection, time, typed dependencies, events out, rows deferred."""

    conn: AsyncConnection
    now: datetime
    deps: D
    producer: str
    cause: Envelope | None = None
    events: list[Envelope] = field(default_factory=list)
    deferred: Deferred = field(default_factory=Deferred)

    def emit(self, payload: BaseModel, case_id: UUID | None = None) -> None:
        """Stage an event for the outbox (committed with the transaction); ``case_id``
        defaults to the causing event's case, and correlation follows the cause."""
        cause = self.cause
        self.events.append(
            make_envelope(
                payload,
                producer=self.producer,
                occurred_at=self.now,
                case_id=case_id or (cause.case_id if cause is not None else None),
                cause=cause,
            )
        )

    def defer(
        self, table: Table, values: dict[str, Any], *, ignore_conflicts: bool = False
    ) -> None:
        """Insert ``values`` into ``table`` when the unit is flushed.

        For append-only rows nobody reads back in the same transaction (timeline rows,
        decisions, deadline rows): in a consumer batch they become one array insert per
        table for the whole batch.
        """
        cause = self.cause
        self.deferred.add(
            table,
            values,
            ignore_conflicts=ignore_conflicts,
            case_id=cause.case_id if cause is not None else None,
        )

    async def flush(self, outbox: Table) -> None:
        """Write the deferred rows, then the staged events into ``outbox``."""
        await flush_deferred(self.conn, self.deferred)
        await write_events(self.conn, outbox, self.events)
