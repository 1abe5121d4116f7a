"""Consumes ``dispatch.acknowledged``; tells the case's channel (status callback), if it
registered one. Keys on ``(event_id, channel)``."""

from __future__ import annotations

from services.notifier.handlers.common import to_channel
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import DispatchAcknowledged


async def on_dispatch_acknowledged(uow: NotifierUnit, event: DispatchAcknowledged) -> None:
    await to_channel(
        uow,
        event.case_id,
        {
            "event": "dispatch.acknowledged",
            "event_id": str(uow.cause.id),
            "case_id": str(event.case_id),
            "status": "acknowledged",
            "owner_id": event.owner_id,
            "acknowledged_at": event.acknowledged_at.isoformat(),
        },
    )
