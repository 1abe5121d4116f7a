"""Consumes ``dispatch.returned`` and ``dispatch.cancelled``: the dispatch's owner no longer
holds the case, so it no longer sees the petitioner (issue 17).

Keys on ``case_id``. **Decision:** intake keeps which dispatches are live itself
(``cases.holders``: dispatch id → owner, the owner's value set to null when the dispatch
ends) rather than asking the router at each read: the petitioner's contact is intake's
to guard, and the router already tells every dispatch's start and end on the bus. An
ended dispatch stays as a null entry, so a ``case.dispatched`` that arrives after its end
(a redelivery) cannot bring it back; a live dispatch of the same owner still counts. An
entry keyed by the owner itself is a case dispatched before this change (migration
intake_0005): the owner's first return or cancellation ends it.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select, update

from services.intake.handlers import Unit
from services.intake.tables import cases
from shared.contracts.events import DispatchCancelled, DispatchReturned
from shared.messaging.consumer import RetryLater


async def _ended(ctx: Unit, case_id: UUID, dispatch_id: UUID, owner_id: str) -> None:
    row = (
        await ctx.conn.execute(
            select(cases.c.holders, cases.c.status_detail)
            .where(cases.c.case_id == case_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise RetryLater(f"case {case_id} not yet stored by intake")
    holders = {k: v for k, v in (row.holders or {}).items() if k != owner_id}
    holders[str(dispatch_id)] = None
    live = sorted({o for o in holders.values() if o})
    detail = dict(row.status_detail or {}) | {"owners": live}
    if detail.get("lead") not in live:  # the lead's dispatch ended: no lead until the next
        detail.pop("lead", None)
    await ctx.conn.execute(
        update(cases)
        .where(cases.c.case_id == case_id)
        .values(holders=holders, status_detail=detail)
    )


async def on_dispatch_returned(ctx: Unit, event: DispatchReturned) -> None:
    await _ended(ctx, event.case_id, event.dispatch_id, event.owner_id)


async def on_dispatch_cancelled(ctx: Unit, event: DispatchCancelled) -> None:
    await _ended(ctx, event.case_id, event.dispatch_id, event.owner_id)
