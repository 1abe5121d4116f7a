"""Consumes ``dispatch.delivered`` from the notifier; writes the "delivered" timeline row.

Keys on ``case_id``/``dispatch_id``. A delivery for a case the router does not hold yet
is retried (never applied out of order).
"""

from __future__ import annotations

from sqlalchemy import select

from services.router import timeline
from services.router.handlers import Unit
from services.router.tables import dispatches
from shared.contracts.events import DispatchDelivered
from shared.messaging.consumer import RetryLater


async def on_dispatch_delivered(ctx: Unit, event: DispatchDelivered) -> None:
    found = await ctx.conn.scalar(
        select(dispatches.c.dispatch_id).where(dispatches.c.dispatch_id == event.dispatch_id)
    )
    if found is None:
        raise RetryLater(f"dispatch {event.dispatch_id} not stored yet")
    await timeline.record(
        ctx,
        case_id=event.case_id,
        dispatch_id=event.dispatch_id,
        at=event.delivered_at,
        actor="notifier",
        action="delivered",
        reason=f"已送达 {ctx.deps.owners.name_of(event.owner_id)}（第 {event.attempts} 次尝试）",
        detail={"owner_id": event.owner_id, "delivery_id": str(event.delivery_id)},
    )
