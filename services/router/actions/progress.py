"""Progress (进展): a note, the minutes spent and any photos; moves the dispatch and case to
in progress.

Each report resets the keep-in-touch clock downstream (``dispatch.progressed``); minutes
spent are kept so that the hours of "emotional service" become visible in the KPIs.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Row

from services.router.actions.attaching import attach, linked
from services.router.actions.common import ActionContext, lock_dispatch
from shared.contracts.events import DispatchProgressed
from shared.domain.lifecycle import CaseState


async def report_progress(
    ctx: ActionContext,
    dispatch_id: UUID,
    *,
    note: str,
    minutes_spent: int,
    attachments: list[str] | None = None,
) -> Row[Any]:
    dispatch, case = await lock_dispatch(ctx, dispatch_id)
    files = await attach(ctx, dispatch.case_id, dispatch.dispatch_id, attachments or [], "progress")
    actor = ctx.key.actor
    dispatch.report_progress(
        ctx.now, actor=actor, note=note, detail={"minutes_spent": minutes_spent, **linked(files)}
    )
    if case.state is CaseState.DISPATCHED:
        name = ctx.deps.owners.name_of(dispatch.owner_id)
        case.start_progress(ctx.now, actor=actor, reason=f"{name} 开始办理")
    dispatch.emit(
        DispatchProgressed(
            case_id=dispatch.case_id,
            dispatch_id=dispatch_id,
            owner_id=dispatch.owner_id,
            minutes_spent=minutes_spent,
            at=ctx.now,
            note=note,
            attachments=files,
        )
    )
    return await ctx.dispatches.row(dispatch)
