"""Consumes ``dispatch.extension_decided``. Approved: the dispatch's resolve deadline moves
to the decided date (what the escalation service now holds it to). Refused: the clock
runs on. Either way a timeline row says who decided what. Keys on ``dispatch_id``."""

from __future__ import annotations

from services.router.unit_of_work import HandlerUnit
from shared.contracts.events import ExtensionDecided
from shared.domain.display import beijing
from shared.messaging.consumer import RetryLater


async def on_extension_decided(uow: HandlerUnit, event: ExtensionDecided) -> None:
    dispatch = await uow.dispatches.get_for_update(event.dispatch_id)
    if dispatch is None:
        raise RetryLater(f"dispatch {event.dispatch_id} not stored yet")
    if event.approved:
        dispatch.extend(event.resolve_due_at)
    verdict = (
        f"同意延期 {event.working_days} 个工作日，新办结时限 {beijing(event.resolve_due_at)}"
        if event.approved
        else "不同意延期，时限照常"
    )
    dispatch.note(uow.cause.occurred_at, actor=event.decided_by, action="extension_decided",
                  reason=f"{verdict}：{event.reason}", states=False)  # fmt: skip
