"""签收: the owner accepts the dispatch. Acknowledging twice answers the same result."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Row

from services.router.actions.common import ActionContext, lock_dispatch
from shared.domain.lifecycle import DispatchState


async def acknowledge(ctx: ActionContext, dispatch_id: UUID) -> Row[Any]:
    dispatch, _case = await lock_dispatch(ctx, dispatch_id)
    if dispatch.state is not DispatchState.ACKNOWLEDGED:
        name = ctx.deps.owners.name_of(dispatch.owner_id)
        dispatch.acknowledge(ctx.now, actor=ctx.key.actor, reason=f"{name} 已签收")
    return await ctx.dispatches.row(dispatch)
