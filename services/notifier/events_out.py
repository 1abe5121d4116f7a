"""What the worker emits about a delivery: ``dispatch.delivered`` and ``delivery.failed``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifier.tables import outbox
from shared.contracts.envelope import make_envelope
from shared.contracts.events import DeliveryFailed, DispatchDelivered
from shared.db.outbox import write_events

log = structlog.get_logger(__name__)


async def emit_delivered(conn: AsyncConnection, row: Any, attempts: int, now: datetime) -> None:
    """Only a dispatch's own delivery (its ``event_type`` is ``case.dispatched``) counts."""
    if row.dispatch_id is None or row.event_type != "case.dispatched":
        return
    event = DispatchDelivered(
        case_id=row.case_id,
        dispatch_id=row.dispatch_id,
        owner_id=row.owner_id,
        delivery_id=row.delivery_id,
        delivered_at=now,
        attempts=attempts,
    )
    env = make_envelope(event, producer="notifier", occurred_at=now, case_id=row.case_id)
    await write_events(conn, outbox, [env])


async def emit_failed(
    conn: AsyncConnection, row: Any, attempts: int, error: str, now: datetime
) -> None:
    log.error(
        "delivery_failed", delivery_id=str(row.delivery_id), owner_id=row.owner_id, error=error
    )
    event = DeliveryFailed(
        case_id=row.case_id,
        dispatch_id=row.dispatch_id,
        owner_id=row.owner_id,
        delivery_id=row.delivery_id,
        attempts=attempts,
        last_error=error,
    )
    env = make_envelope(event, producer="notifier", occurred_at=now, case_id=row.case_id)
    await write_events(conn, outbox, [env])
