"""延期: a request before the resolve deadline; a supervisor decides (escalation service).

One open request per dispatch: a second while one waits is refused (409), as the timeline
shows it (an ``extension_requested`` row with no ``extension_decided`` after it). The
request names its approver (the owner's escalation parent), who is sent a notice.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Row, func, select

from services.router.actions.common import ActionContext, lock_dispatch
from services.router.tables import timeline
from shared.contracts.events import ExtensionRequested
from shared.domain.errors import InvalidTransition


async def request_extension(
    ctx: ActionContext, dispatch_id: UUID, *, working_days: int, reason: str
) -> Row[Any]:
    dispatch, _case = await lock_dispatch(ctx, dispatch_id)
    state = dispatch.state.value
    if await _pending(ctx, dispatch.case_id, dispatch_id):
        raise InvalidTransition(
            state,
            "request_extension",
            "已有待审批的延期申请，请等待上级决定后再申请 (an extension request is already pending)",
        )
    due = dispatch.resolve_due_at
    assert due is not None  # every stored dispatch has its resolve deadline
    if due <= ctx.now:
        raise InvalidTransition(
            state,
            "request_extension",
            "办结时限已过，不能再申请延期，请联系督办单位 (deadline already passed)",
        )
    above = ctx.deps.owners.chain(dispatch.owner_id)[1:]
    approver = above[0] if above else None
    dispatch.request_extension(
        ctx.now, actor=ctx.key.actor, days=working_days,
        reason=f"申请延期 {working_days} 个工作日（待「{approver.name if approver else '上级'}」审批）：{reason}",
    )  # fmt: skip
    dispatch.emit(
        ExtensionRequested(
            case_id=dispatch.case_id,
            dispatch_id=dispatch_id,
            owner_id=dispatch.owner_id,
            working_days=working_days,
            reason=reason,
            resolve_due_at=due,
            approver_id=approver.id if approver else None,
        )
    )
    return await ctx.dispatches.row(dispatch)


async def _pending(ctx: ActionContext, case_id: UUID, dispatch_id: UUID) -> bool:
    """A request of this dispatch waits for its decision (asked more often than decided)."""
    counts = (
        await ctx.conn.execute(
            select(
                func.count().filter(timeline.c.action == "extension_requested"),
                func.count().filter(timeline.c.action == "extension_decided"),
            ).where(timeline.c.case_id == case_id, timeline.c.dispatch_id == dispatch_id)
        )
    ).one()
    return bool(counts[0] > counts[1])
