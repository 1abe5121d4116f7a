"""Consumes case.resolved, case.closed and case.reopened; the status a channel sees
around the rating step.

``case.resolved`` → ``resolved`` (the channel may now rate it); ``case.closed`` →
``closed``; ``case.reopened`` → ``dispatched`` (the router reopens and redispatches in
one transaction, so the second handling is already dispatched). Keys on ``case_id``; an
event for a case intake does not know is retried.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select, update

from services.intake.handlers import Unit
from services.intake.tables import cases
from shared.contracts.events import CaseClosed, CaseReopened, CaseResolved
from shared.messaging.consumer import RetryLater

_BEFORE_RESOLVED = {"received", "dispatched", "acknowledged", "in_progress", "disputed"}


async def _set(ctx: Unit, case_id: UUID, status: str, *, only_from: set[str]) -> None:
    current = await ctx.conn.scalar(
        select(cases.c.status).where(cases.c.case_id == case_id).with_for_update()
    )
    if current is None:
        raise RetryLater(f"case {case_id} not yet stored by intake")
    if only_from and current not in only_from:
        return
    await ctx.conn.execute(
        update(cases).where(cases.c.case_id == case_id).values(status=status, status_at=ctx.now)
    )


async def on_case_resolved(ctx: Unit, event: CaseResolved) -> None:
    """Also keeps the result (outcome, summary, lead) for the rating page and the channel."""
    await _set(ctx, event.case_id, "resolved", only_from=_BEFORE_RESOLVED)
    result = {
        "outcome": event.outcome,
        "summary": event.summary,
        "lead_owner_id": event.lead_owner_id,
        "at": ctx.now.isoformat(),
    }
    await _merge_detail(ctx, event.case_id, {"result": result})


async def on_case_closed(ctx: Unit, event: CaseClosed) -> None:
    await _set(ctx, event.case_id, "closed", only_from=set())
    await _merge_detail(ctx, event.case_id, {"close_kind": event.kind})


async def _merge_detail(ctx: Unit, case_id: UUID, more: dict[str, object]) -> None:
    """Add keys to the case's status detail (its row is locked by :func:`_set`)."""
    detail = await ctx.conn.scalar(select(cases.c.status_detail).where(cases.c.case_id == case_id))
    await ctx.conn.execute(
        update(cases)
        .where(cases.c.case_id == case_id)
        .values(status_detail=dict(detail or {}) | more)
    )


async def on_case_reopened(ctx: Unit, event: CaseReopened) -> None:
    await _set(ctx, event.case_id, "dispatched", only_from={"rated", "resolved"})
