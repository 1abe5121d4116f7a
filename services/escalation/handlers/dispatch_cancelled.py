"""Consumes ``dispatch.cancelled``: a supervisor's decision replaced the dispatch, so every
clock of it stops (the new dispatch brings its own). Keys on ``dispatch_id``; emits nothing.
"""

from __future__ import annotations

from services.escalation.handlers import Unit
from services.escalation.handlers.deadlines import disarm
from shared.contracts.events import DispatchCancelled


async def on_dispatch_cancelled(ctx: Unit, event: DispatchCancelled) -> None:
    await disarm(ctx, event.dispatch_id, None)
