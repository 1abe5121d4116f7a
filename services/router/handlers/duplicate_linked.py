"""Consumes ``case.duplicate_linked`` from intake; writes the "duplicate_linked" timeline row.

The matter was reported again (重复件) under another number: the owner sees it on the
case's timeline, its number is added to the case's searchable text, and the photos or
recordings it brought join the case's attachments; nothing is dispatched again. Keys on ``case_id``; an event for a case the
router has not stored yet is retried (never applied out of order). Emits nothing.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.router import timeline
from services.router.handlers import Unit
from services.router.tables import case_attachments, cases
from shared.contracts.events import CaseDuplicateLinked
from shared.messaging.consumer import RetryLater

_REASONS = {"related_ref": "注明了原编号", "same_petitioner": "同一诉求人、同类事项、同一小区"}


async def on_duplicate_linked(ctx: Unit, event: CaseDuplicateLinked) -> None:
    found = await ctx.conn.scalar(select(cases.c.case_id).where(cases.c.case_id == event.case_id))
    if found is None:
        raise RetryLater(f"case {event.case_id} not stored yet")
    if event.ref:  # the other number finds this case too (GET /v1/cases?q=)
        await ctx.conn.execute(
            update(cases)
            .where(cases.c.case_id == event.case_id)
            .values(search_text=func.concat_ws(" ", cases.c.search_text, event.ref))
        )
    for info in event.attachments:  # the repeat report's photos and recordings join the case
        await ctx.conn.execute(
            pg_insert(case_attachments)
            .values(**info.model_dump(), case_id=event.case_id, kind="intake", dispatch_id=None)
            .on_conflict_do_nothing()
        )
    number = f" 编号 {event.ref}" if event.ref else ""
    await timeline.record(
        ctx,
        case_id=event.case_id,
        at=ctx.cause.occurred_at,
        actor=f"channel:{event.channel}",
        action="duplicate_linked",
        reason=f"重复件：{event.channel}{number} 再次反映同一事项（{_REASONS[event.reason]}）",
        detail={"channel": event.channel, "ref": event.ref, "reason": event.reason},
    )
