"""Consumes case.dispatched and dispatch.acknowledged; keeps the status a channel sees.

Keys on ``case_id``. Status only moves forward (rank order), so an event that arrives
late never moves a case back; an event for a case intake does not know is retried.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text, update

from services.intake.handlers.feedback_status import HANDLERS as FEEDBACK_STATUS_HANDLERS
from services.intake.service import STATUS_RANK
from services.intake.tables import cases
from shared.contracts.events import CaseDispatched, DispatchAcknowledged
from shared.messaging.consumer import Handler, HandlerContext, RetryLater


async def _locked(ctx: HandlerContext, case_id: object) -> Any:
    row = (
        await ctx.conn.execute(
            select(cases.c.status, cases.c.status_detail)
            .where(cases.c.case_id == case_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise RetryLater(f"case {case_id} not yet stored by intake")
    return row


def _forward(current: str, status: str) -> bool:
    return STATUS_RANK.get(status, 0) > STATUS_RANK.get(current, 0)


# One statement: the owners holding a dispatch are merged into status_detail (sorted,
# each once) and the status moves to dispatched only from a status ranked below it.
_BEHIND_DISPATCHED = sorted(s for s, r in STATUS_RANK.items() if r < STATUS_RANK["dispatched"])
_DISPATCHED = text(
    """
    UPDATE intake.cases SET
      status_detail = coalesce(status_detail, '{}'::jsonb) || jsonb_build_object('owners', (
        SELECT coalesce(jsonb_agg(o ORDER BY o), '[]'::jsonb) FROM (
          SELECT jsonb_array_elements_text(coalesce(status_detail -> 'owners', '[]'::jsonb))
          UNION SELECT unnest(CAST(:owners AS text[]))
        ) AS held(o))),
      status = CASE WHEN status = ANY(CAST(:behind AS text[])) THEN 'dispatched' ELSE status END,
      status_at = CASE WHEN status = ANY(CAST(:behind AS text[])) THEN :at ELSE status_at END
    WHERE case_id = :case_id
    RETURNING case_id
    """
)


async def on_case_dispatched(ctx: HandlerContext, event: CaseDispatched) -> None:
    """Also remembers which owners hold a dispatch: only they may see the petitioner's
    (masked) contact. One statement (the row lock is the update's own)."""
    done = await ctx.conn.scalar(
        _DISPATCHED,
        {
            "owners": sorted({d.owner_id for d in event.dispatches}),
            "behind": _BEHIND_DISPATCHED,
            "at": ctx.now,
            "case_id": event.case_id,
        },
    )
    if done is None:
        raise RetryLater(f"case {event.case_id} not yet stored by intake")


async def on_dispatch_acknowledged(ctx: HandlerContext, event: DispatchAcknowledged) -> None:
    row = await _locked(ctx, event.case_id)
    if _forward(row.status, "acknowledged"):
        await ctx.conn.execute(
            update(cases)
            .where(cases.c.case_id == event.case_id)
            .values(status="acknowledged", status_at=ctx.now)
        )


HANDLERS: dict[str, Handler] = {
    **FEEDBACK_STATUS_HANDLERS,
    "case.dispatched": on_case_dispatched,
    "dispatch.acknowledged": on_dispatch_acknowledged,
}
