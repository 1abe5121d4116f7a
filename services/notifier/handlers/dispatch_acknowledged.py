"""Consumes ``dispatch.acknowledged``; tells the case's channel (status callback), if it
registered one. Keys on ``(event_id, channel)``."""

from __future__ import annotations

from services.notifier.handlers import Unit
from services.notifier.handlers.common import to_channel
from shared.contracts.events import DispatchAcknowledged


async def on_dispatch_acknowledged(ctx: Unit, event: DispatchAcknowledged) -> None:
    await to_channel(
        ctx,
        event.case_id,
        {
            "event": "dispatch.acknowledged",
            "event_id": str(ctx.cause.id),
            "case_id": str(event.case_id),
            "status": "acknowledged",
            "owner_id": event.owner_id,
            "acknowledged_at": event.acknowledged_at.isoformat(),
        },
    )
