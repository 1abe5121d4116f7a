"""Arms and disarms the per-dispatch deadline rows.

Consumes ``case.dispatched`` (arms acknowledge, progress and resolve clocks for every
dispatch, from the moment of dispatch) and ``dispatch.acknowledged`` (disarms the
acknowledge clock only: the progress and resolve clocks keep running, so an
acknowledgement never silences a case). Keys on ``dispatch_id`` and ``kind``; each
change bumps ``version``, the fencing token a stale timer is checked against.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.escalation.tables import deadlines
from shared.contracts.events import CaseDispatched, DispatchAcknowledged
from shared.ids import new_id
from shared.messaging.consumer import HandlerContext


async def on_case_dispatched(ctx: HandlerContext, event: CaseDispatched) -> None:
    rows = []
    for d in event.dispatches:
        clocks = {"acknowledge": d.acknowledge_due_at, "resolve": d.resolve_due_at}
        if d.progress_due_at is not None:
            clocks["progress"] = d.progress_due_at
        rows += [
            {
                "deadline_id": new_id(),
                "case_id": event.case_id,
                "dispatch_id": d.dispatch_id,
                "owner_id": d.owner_id,
                "kind": kind,
                "due_at": due,
                "state": "armed",
                "created_at": ctx.now,
                "updated_at": ctx.now,
            }
            for kind, due in clocks.items()
        ]
    await ctx.conn.execute(pg_insert(deadlines).on_conflict_do_nothing(), rows)


async def on_dispatch_acknowledged(ctx: HandlerContext, event: DispatchAcknowledged) -> None:
    await ctx.conn.execute(
        update(deadlines)
        .where(
            deadlines.c.dispatch_id == event.dispatch_id,
            deadlines.c.kind == "acknowledge",
            deadlines.c.state == "armed",
        )
        .values(state="disarmed", updated_at=ctx.now, version=deadlines.c.version + 1)
    )


HANDLERS = {
    "case.dispatched": on_case_dispatched,
    "dispatch.acknowledged": on_dispatch_acknowledged,
}
