"""Consumes ``dispatch.returned``: every clock of the returned dispatch stops.

The dispatch is no longer the owner's; the router re-routes or disputes the case and a new
dispatch brings its own clocks. Keys on ``dispatch_id``; emits nothing.
"""

from __future__ import annotations

from services.escalation.unit_of_work import EscalationUnit
from shared.contracts.events import DispatchReturned


async def on_dispatch_returned(uow: EscalationUnit, event: DispatchReturned) -> None:
    await uow.deadlines.disarm_dispatch(event.dispatch_id)
