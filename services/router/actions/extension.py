"""延期: a request before the resolve deadline; a supervisor decides (escalation service)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Row

from services.router.actions.common import ActionContext, lock_dispatch, move_dispatch
from shared.contracts.events import ExtensionRequested
from shared.domain.errors import InvalidTransition


async def request_extension(
    ctx: ActionContext, dispatch_id: UUID, *, working_days: int, reason: str
) -> Row[Any]:
    row, _case = await lock_dispatch(ctx, dispatch_id)
    if row.resolve_due_at <= ctx.now:
        raise InvalidTransition(
            row.state,
            "request_extension",
            "办结时限已过，不能再申请延期，请联系督办单位 (deadline already passed)",
        )
    updated = await move_dispatch(
        ctx,
        row,
        "request_extension",
        action="extension_requested",
        reason=f"申请延期 {working_days} 个工作日：{reason}",
        detail={"working_days": working_days},
    )
    ctx.emit(
        ExtensionRequested(
            case_id=row.case_id,
            dispatch_id=dispatch_id,
            owner_id=row.owner_id,
            working_days=working_days,
            reason=reason,
            resolve_due_at=row.resolve_due_at,
        ),
        row.case_id,
    )
    return updated
