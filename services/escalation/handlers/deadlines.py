"""Arms and disarms the per-dispatch deadline rows.

Consumes ``case.dispatched`` (arms acknowledge, progress and resolve clocks for every
dispatch, from the moment of dispatch, each with its reminder time and the policy frozen
onto the row) and ``dispatch.acknowledged`` (disarms the acknowledge clock only: the progress and
resolve clocks keep running, so an acknowledgement never silences a case; a progress clock
held because the dispatch was never acknowledged starts again from now). Keys on ``dispatch_id`` and ``kind``; each change bumps
``version``, the fencing token a stale timer is checked against.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import update

from services.escalation.handlers import Unit
from services.escalation.ladder import remind_at
from services.escalation.tables import deadlines
from shared.contracts.events import CaseDispatched, DispatchAcknowledged
from shared.ids import new_id


async def on_case_dispatched(ctx: Unit, event: CaseDispatched) -> None:
    start = ctx.cause.occurred_at
    frozen = ctx.deps.policy.frozen(event.urgency) | {
        "location": event.location.model_dump(),
        "category": event.category,
    }
    for d in event.dispatches:
        clocks = {"acknowledge": d.acknowledge_due_at, "resolve": d.resolve_due_at}
        if d.progress_due_at is not None:
            clocks["progress"] = d.progress_due_at
        policy = frozen | {
            "dispatch_owner_id": d.owner_id,
            "role": d.role,
            "dispatched_at": start.isoformat(),
        }
        for kind, due in clocks.items():
            remind = remind_at(start, due, policy["reminder_share"])
            ctx.defer(  # one array insert for the batch's clocks
                deadlines,
                {
                    "deadline_id": new_id(),
                    "case_id": event.case_id,
                    "dispatch_id": d.dispatch_id,
                    "owner_id": d.owner_id,
                    "kind": kind,
                    "due_at": due,
                    "remind_at": remind,
                    "next_at": remind or due,
                    "policy": policy,
                    "state": "armed",
                    "created_at": ctx.now,
                    "updated_at": ctx.now,
                },
                ignore_conflicts=True,
            )


async def on_dispatch_acknowledged(ctx: Unit, event: DispatchAcknowledged) -> None:
    from services.escalation.handlers.dispatch_progressed import restart_progress

    await disarm(ctx, event.dispatch_id, ["acknowledge", "escalate.acknowledge"])
    await restart_progress(ctx, event.dispatch_id, held_only=True)


async def disarm(ctx: Unit, dispatch_id: UUID, kinds: Iterable[str] | None) -> None:
    """Disarm the dispatch's clocks of ``kinds`` (all of them when None) that are running
    or ran out: an answered clock is no longer named by the case's ladder."""
    stmt = update(deadlines).where(
        deadlines.c.dispatch_id == dispatch_id, deadlines.c.state.in_(["armed", "fired"])
    )
    if kinds is not None:
        stmt = stmt.where(deadlines.c.kind.in_(list(kinds)))
    await ctx.conn.execute(
        stmt.values(state="disarmed", updated_at=ctx.now, version=deadlines.c.version + 1)
    )
