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
from services.router.actions.common import ActionContext, lock_dispatch, move_case, move_dispatch
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
    row, case = await lock_dispatch(ctx, dispatch_id)
    files = await attach(ctx, row, attachments or [], "progress")
    updated = await move_dispatch(
        ctx,
        row,
        "start_progress",
        action="progress",
        reason=note,
        values={"acknowledged_at": row.acknowledged_at or ctx.now},
        detail={"minutes_spent": minutes_spent, **linked(files)},
    )
    if case.state == CaseState.DISPATCHED.value:
        await move_case(
            ctx, case, "start_progress", reason=f"{ctx.deps.owners.name_of(row.owner_id)} 开始办理"
        )
    ctx.emit(
        DispatchProgressed(
            case_id=row.case_id,
            dispatch_id=dispatch_id,
            owner_id=row.owner_id,
            minutes_spent=minutes_spent,
            at=ctx.now,
            note=note,
            attachments=files,
        ),
        row.case_id,
    )
    return updated
