"""Consumes ``dispatch.extension_decided``. Approved: the dispatch's resolve deadline moves
to the decided date (what the escalation service now holds it to). Refused: the clock
runs on. Either way a timeline row says who decided what. Keys on ``dispatch_id``."""

from __future__ import annotations

from sqlalchemy import select, update

from services.router import timeline
from services.router.tables import dispatches
from shared.contracts.events import ExtensionDecided
from shared.domain.display import beijing
from shared.messaging.consumer import HandlerContext, RetryLater


async def on_extension_decided(ctx: HandlerContext, event: ExtensionDecided) -> None:
    row = (
        await ctx.conn.execute(
            select(dispatches)
            .where(dispatches.c.dispatch_id == event.dispatch_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise RetryLater(f"dispatch {event.dispatch_id} not stored yet")
    if event.approved:
        await ctx.conn.execute(
            update(dispatches)
            .where(dispatches.c.dispatch_id == event.dispatch_id)
            .values(
                resolve_due_at=event.resolve_due_at,
                updated_at=ctx.now,
                version=dispatches.c.version + 1,
            )
        )
    verdict = (
        f"同意延期 {event.working_days} 个工作日，新办结时限 {beijing(event.resolve_due_at)}"
        if event.approved
        else "不同意延期，时限照常"
    )
    await timeline.record(
        ctx, case_id=event.case_id, dispatch_id=event.dispatch_id, at=ctx.cause.occurred_at,
        actor=event.decided_by, action="extension_decided", reason=f"{verdict}：{event.reason}",
    )  # fmt: skip
