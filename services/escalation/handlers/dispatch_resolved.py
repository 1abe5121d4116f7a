"""Consumes ``dispatch.resolved``: every clock of the dispatch stops (acknowledge, progress,
resolve and any ladder they started). Keys on ``dispatch_id``; emits nothing."""

from __future__ import annotations

from services.escalation.unit_of_work import EscalationUnit
from shared.contracts.events import DispatchResolved


async def on_dispatch_resolved(uow: EscalationUnit, event: DispatchResolved) -> None:
    await uow.deadlines.disarm_dispatch(event.dispatch_id)
