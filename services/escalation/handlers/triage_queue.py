"""The dispatchers' queue clock (待派单时限).

Consumes ``case.held_for_triage`` (arms a ``triage`` clock on the desk office, due when the
router said, with a reminder like any clock, so an overdue queue climbs the desk's ladder
exactly as an overdue dispatch does) and ``case.classified`` (a person decided: the case's
triage clocks stop; a running ladder of them stops at its next rung, as all are answered).
Keys on ``case_id``: a repeat of the same hold finds the clock already armed.
"""

from __future__ import annotations

from sqlalchemy import select, update

from services.escalation.handlers import Unit
from services.escalation.ladder import remind_at
from services.escalation.tables import deadlines
from shared.contracts.events import CaseClassified, CaseHeldForTriage
from shared.ids import new_id

KIND = "triage"


async def on_case_held_for_triage(ctx: Unit, event: CaseHeldForTriage) -> None:
    armed = await ctx.conn.scalar(
        select(deadlines.c.deadline_id).where(
            deadlines.c.case_id == event.case_id,
            deadlines.c.kind == KIND,
            deadlines.c.state == "armed",
        )
    )
    if armed is not None:
        return
    start = ctx.cause.occurred_at
    policy = ctx.deps.policy.frozen(event.urgency) | {
        "location": event.location.model_dump(),
        "category": "unclassified",
        "dispatch_owner_id": event.desk_owner_id,
        "role": "desk",
        "dispatched_at": start.isoformat(),
    }
    remind = remind_at(start, event.due_at, policy["reminder_share"])
    await ctx.conn.execute(
        deadlines.insert().values(
            deadline_id=new_id(), case_id=event.case_id, dispatch_id=None,
            owner_id=event.desk_owner_id, kind=KIND, due_at=event.due_at, remind_at=remind,
            next_at=remind or event.due_at, policy=policy, state="armed",
            created_at=ctx.now, updated_at=ctx.now,
        )
    )  # fmt: skip


async def on_case_classified(ctx: Unit, event: CaseClassified) -> None:
    await ctx.conn.execute(
        update(deadlines)
        .where(
            deadlines.c.case_id == event.case_id,
            deadlines.c.kind == KIND,
            deadlines.c.state.in_(["armed", "fired"]),
        )
        .values(state="disarmed", updated_at=ctx.now, version=deadlines.c.version + 1)
    )
