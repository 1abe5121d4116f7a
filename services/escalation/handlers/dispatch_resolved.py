"""Consumes ``dispatch.resolved``: every clock of the dispatch stops (acknowledge, progress,
resolve and any ladder they started). Keys on ``dispatch_id``; emits nothing."""

from __future__ import annotations

from services.escalation.handlers import Unit
from services.escalation.handlers.deadlines import disarm
from shared.contracts.events import DispatchResolved


async def on_dispatch_resolved(ctx: Unit, event: DispatchResolved) -> None:
    await disarm(ctx, event.dispatch_id, None)
