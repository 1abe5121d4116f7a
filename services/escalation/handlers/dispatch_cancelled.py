"""Consumes ``dispatch.cancelled``: a supervisor's decision replaced the dispatch, so every
clock of it stops (the new dispatch brings its own). Keys on ``dispatch_id``; emits nothing.
"""

from __future__ import annotations

from services.escalation.unit_of_work import EscalationUnit
from shared.contracts.events import DispatchCancelled


async def on_dispatch_cancelled(uow: EscalationUnit, event: DispatchCancelled) -> None:
    await uow.deadlines.disarm_dispatch(event.dispatch_id)
