"""Consumes case.dispatched and dispatch.acknowledged; keeps the status a channel sees
(and, through ``dispatch_ended``, which dispatches are live).

Keys on ``case_id``. Status only moves forward (rank order), so an event that arrives
late never moves a case back; an event for a case intake does not know is retried.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.handlers import Unit
from services.intake.tables import cases
from shared.contracts.events import CaseDispatched, DispatchAcknowledged
from shared.db.engine import json_dumps
from shared.domain.intake_submission import STATUS_RANK
from shared.messaging.consumer import RetryLater


async def _locked(ctx: Unit, case_id: object) -> Any:
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


# A rated case (the petitioner answered) is as far on as a resolved one: a late
# dispatch.acknowledged (an event sent on alone to the queue's tail) never moves it back.
_RANK = STATUS_RANK | {"rated": STATUS_RANK["resolved"]}


def _forward(current: str, status: str) -> bool:
    return _RANK.get(status, 0) > _RANK.get(current, 0)


# One statement for any number of cases: each dispatch joins ``holders`` (dispatch id →
# owner; an entry already there, live or ended, stays as it is: see dispatch_ended), the
# owners with a live dispatch become status_detail's ``owners`` (sorted, each once), the
# lead of the latest dispatching its ``lead`` while that dispatch is live (a redelivered
# event of an ended one changes nothing), and
# the status moves to dispatched only from a status ranked below it. Each case's
# dispatches go as one JSON object (arrays of arrays are rectangular in PostgreSQL).
_BEHIND_DISPATCHED = sorted(s for s, r in STATUS_RANK.items() if r < STATUS_RANK["dispatched"])
_DISPATCHED = text(
    """
    UPDATE intake.cases AS c SET
      holders = u.holders || coalesce(c.holders, '{}'::jsonb),
      status_detail = coalesce(c.status_detail, '{}'::jsonb) || jsonb_build_object('owners', (
        SELECT coalesce(jsonb_agg(DISTINCT h.o ORDER BY h.o), '[]'::jsonb)
        FROM jsonb_each_text(u.holders || coalesce(c.holders, '{}'::jsonb)) AS h(d, o)
        WHERE h.o IS NOT NULL))
        || CASE WHEN EXISTS (
             SELECT 1 FROM jsonb_each_text(u.holders || coalesce(c.holders, '{}'::jsonb)) AS l(d, o)
             WHERE l.o = u.lead)
           THEN jsonb_build_object('lead', u.lead) ELSE '{}'::jsonb END,
      status = CASE WHEN c.status = ANY(CAST(:behind AS text[])) THEN 'dispatched'
               ELSE c.status END,
      status_at = CASE WHEN c.status = ANY(CAST(:behind AS text[])) THEN u.at
                  ELSE c.status_at END
    FROM unnest(CAST(:case_ids AS uuid[]), CAST(:holders AS jsonb[]),
                CAST(:ats AS timestamptz[]), CAST(:leads AS text[])) AS u(case_id, holders, at, lead)
    WHERE c.case_id = u.case_id
    RETURNING c.case_id
    """
)


async def on_case_dispatched(ctx: Unit, event: CaseDispatched) -> None:
    """Also remembers each dispatch and its owner: only an owner holding a live dispatch
    may see the petitioner's (masked) contact. One statement (the row lock is the update's own); in a batch, one
    statement for the batch's events at its flush."""
    params = {
        "holders": {str(d.dispatch_id): d.owner_id for d in event.dispatches},
        "lead": next((d.owner_id for d in event.dispatches if d.role == "lead"), None),
        "at": ctx.now,
        "case_id": event.case_id,
    }
    await ctx.call(_dispatched, params, case_id=event.case_id)


async def _dispatched(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """A case appears once per batch: a second event of it flushed the first (the batch
    flushes before an event of a case with writes pending). Twice would merge only one
    event's owners, so it is refused (the batch's second pass applies each alone)."""
    if len({r["case_id"] for r in rows}) < len(rows):
        raise RuntimeError("a case twice in one status update")
    done = await conn.execute(
        _DISPATCHED,
        {
            "case_ids": [r["case_id"] for r in rows],
            "holders": [json_dumps(r["holders"]) for r in rows],
            "ats": [r["at"] for r in rows],
            "leads": [r.get("lead") for r in rows],
            "behind": _BEHIND_DISPATCHED,
        },
    )
    missing = {r["case_id"] for r in rows} - set(done.scalars())
    if missing:  # in a batch, its second pass finds which event is early
        named = ", ".join(sorted(map(str, missing))[:3]) + (" …" if len(missing) > 3 else "")
        raise RetryLater(f"case {named} not yet stored by intake ({len(missing)} of {len(rows)})")


async def on_dispatch_acknowledged(ctx: Unit, event: DispatchAcknowledged) -> None:
    row = await _locked(ctx, event.case_id)
    if _forward(row.status, "acknowledged"):
        await ctx.conn.execute(
            update(cases)
            .where(cases.c.case_id == event.case_id)
            .values(status="acknowledged", status_at=ctx.now)
        )
