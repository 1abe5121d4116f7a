"""What every department action shares: its unit of work, and loading under lock."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.router.deps import RouterDeps
from services.router.tables import dispatches
from services.router.unit_of_work import OwnSink, RouterUnit
from shared.auth.keys import ApiKey, Role
from shared.contracts.envelope import Envelope
from shared.domain.case import Case
from shared.domain.dispatch import Dispatch
from shared.domain.errors import NotFound


class ActionContext(RouterUnit):
    """One department action's unit of work: who acts, when, and what it changes."""

    def __init__(
        self, *, conn: AsyncConnection, key: ApiKey, now: datetime, deps: RouterDeps
    ) -> None:
        self._own = OwnSink(conn=conn, now=now, deps=deps)
        super().__init__(self._own, now=now, deps=deps)
        self.key = key

    @property
    def events(self) -> list[Envelope]:
        return self._own.events

    async def flush(self) -> None:
        """Everything the action did, into its transaction: the aggregates, the deferred
        rows (timeline, decisions) and the outbox."""
        await self.commit()
        await self._own.write()


async def lock_dispatch_and_case(ctx: ActionContext, dispatch_id: UUID) -> tuple[Dispatch, Case]:
    """The dispatch and its case, both locked, case first (one order for every writer);
    404 when the dispatch does not exist. Whose it may be is the caller's check."""
    case_id = await ctx.conn.scalar(
        select(dispatches.c.case_id).where(dispatches.c.dispatch_id == dispatch_id)
    )
    if case_id is None:
        raise NotFound("派单不存在 (dispatch not found)")
    case = await ctx.cases.get_for_update(case_id)
    dispatch = await ctx.dispatches.get_for_update(dispatch_id)
    assert case is not None and dispatch is not None  # a dispatch's case is never deleted
    return dispatch, case


async def lock_dispatch(ctx: ActionContext, dispatch_id: UUID) -> tuple[Dispatch, Case]:
    """The dispatch and its case, both locked (case first: one order for every writer).

    404 when the dispatch is not the caller's: another owner's dispatch is never revealed.
    """
    dispatch, case = await lock_dispatch_and_case(ctx, dispatch_id)
    if ctx.key.role is not Role.ADMIN and dispatch.owner_id != ctx.key.owner_id:
        raise NotFound("派单不存在 (dispatch not found)")
    return dispatch, case
