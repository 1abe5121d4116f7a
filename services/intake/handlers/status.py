"""Consumes case.dispatched and dispatch.acknowledged; keeps the status a channel sees.

Keys on ``case_id``. Status only moves forward (rank order), so an event that arrives
late never moves a case back; an event for a case intake does not know is retried.
"""

from __future__ import annotations

from sqlalchemy import select, update

from services.intake.handlers.feedback_status import HANDLERS as FEEDBACK_STATUS_HANDLERS
from services.intake.service import STATUS_RANK
from services.intake.tables import cases
from shared.contracts.events import CaseDispatched, DispatchAcknowledged
from shared.messaging.consumer import Handler, HandlerContext, RetryLater


async def _advance(ctx: HandlerContext, case_id: object, status: str) -> None:
    current = await ctx.conn.scalar(
        select(cases.c.status).where(cases.c.case_id == case_id).with_for_update()
    )
    if current is None:
        raise RetryLater(f"case {case_id} not yet stored by intake")
    if STATUS_RANK.get(status, 0) <= STATUS_RANK.get(current, 0):
        return
    await ctx.conn.execute(
        update(cases).where(cases.c.case_id == case_id).values(status=status, status_at=ctx.now)
    )


async def on_case_dispatched(ctx: HandlerContext, event: CaseDispatched) -> None:
    """Also remembers which owners hold a dispatch: only they may see the petitioner's
    (masked) contact."""
    await _advance(ctx, event.case_id, "dispatched")
    detail = await ctx.conn.scalar(
        select(cases.c.status_detail).where(cases.c.case_id == event.case_id)
    )
    held = dict(detail or {})
    held["owners"] = sorted(set(held.get("owners", [])) | {d.owner_id for d in event.dispatches})
    await ctx.conn.execute(
        update(cases).where(cases.c.case_id == event.case_id).values(status_detail=held)
    )


async def on_dispatch_acknowledged(ctx: HandlerContext, event: DispatchAcknowledged) -> None:
    await _advance(ctx, event.case_id, "acknowledged")


HANDLERS: dict[str, Handler] = {
    **FEEDBACK_STATUS_HANDLERS,
    "case.dispatched": on_case_dispatched,
    "dispatch.acknowledged": on_dispatch_acknowledged,
}
