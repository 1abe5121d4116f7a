"""The typed timeline: one row per thing that happened to a case, in the same transaction.

Rows are append-only and their order is their ``seq``. Given a handler's or an action's
context, a row is deferred to the context's batched insert (one statement for every row
of the transaction, in the order recorded); given a bare connection (background jobs) it
is inserted at once. Code that records through a context must not read the timeline
back in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.router.tables import timeline


class Deferring(Protocol):
    def defer(self, table: Table, values: dict[str, Any]) -> None: ...


async def record(
    sink: AsyncConnection | Deferring,
    *,
    case_id: UUID,
    at: datetime,
    actor: str,
    action: str,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    rule_version: str | None = None,
    dispatch_id: UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    values = {
        "case_id": case_id,
        "dispatch_id": dispatch_id,
        "at": at,
        "actor": actor,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "rule_version": rule_version,
        "detail": detail,
    }
    if isinstance(sink, AsyncConnection):
        await sink.execute(insert(timeline).values(**values))
    else:
        sink.defer(timeline, values)
