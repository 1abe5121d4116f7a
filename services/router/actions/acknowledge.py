"""签收: the owner accepts the dispatch. Acknowledging twice answers the same result."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Row

from services.router.actions.common import ActionContext, lock_dispatch, move_dispatch
from shared.contracts.events import DispatchAcknowledged
from shared.domain.lifecycle import DispatchState


async def acknowledge(ctx: ActionContext, dispatch_id: UUID) -> Row[Any]:
    row, _case = await lock_dispatch(ctx, dispatch_id)
    if row.state == DispatchState.ACKNOWLEDGED.value:
        return row
    updated = await move_dispatch(
        ctx,
        row,
        "acknowledge",
        action="acknowledged",
        reason=f"{ctx.deps.owners.name_of(row.owner_id)} 已签收",
        values={"acknowledged_at": ctx.now},
    )
    ctx.emit(
        DispatchAcknowledged(
            case_id=row.case_id,
            dispatch_id=dispatch_id,
            owner_id=row.owner_id,
            acknowledged_at=ctx.now,
            actor=ctx.key.actor,
        ),
        row.case_id,
    )
    return updated
