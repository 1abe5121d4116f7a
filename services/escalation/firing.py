"""What a due deadline row does when the scanner claims it.

:func:`fire` first takes the fencing token: ``UPDATE ... WHERE deadline_id AND version AND
state = 'armed'``; when no row answers, the timer is stale (disarmed, re-armed or fired by
someone else) and nothing happens. Otherwise, in the caller's transaction:

* before ``due_at``, the reminder (催办) goes to the owner, unless it is quiet time and
  the clock's urgency is one quiet hours hold (not an emergency): then it is held
  (re-scheduled to the end of the quiet hours), never dropped;
* at ``due_at`` a dispatch clock joins the case's ladder (:mod:`services.escalation.climb`:
  one escalation per level per case, naming every overdue clock), and the case's
  ``escalate.case`` row climbs a rung at its own delay; past the city, the backlog;
* a ``progress`` clock of a dispatch never acknowledged does not escalate (its acknowledge
  clock already speaks): it is held, and starts again from the acknowledgement;
* a missed ``report_in`` escalates to the level above the office that blew the whistle.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import Row

from services.escalation import backlog
from services.escalation.climb import clock_overdue, ladder_due
from services.escalation.fire_context import FireContext
from services.escalation.ladder import CLOCK_CN
from services.escalation.policy import quiet_holds, quiet_of
from services.escalation.report_in import report_in_missed
from shared.contracts.events import CaseReminder
from shared.domain.display import beijing

__all__ = ["FireContext", "fire", "is_reminder"]
log = structlog.get_logger(__name__)


def is_reminder(row: Any, now: Any) -> bool:
    """The row's time is its reminder's (催办), not its due time."""
    return row.reminded_at is None and row.remind_at is not None and now < row.due_at


async def fire(ctx: FireContext, row: Row[Any]) -> str:
    """Handle one claimed row; returns the outcome (also counted in a metric)."""
    late = None
    if not await ctx.fence(row):
        outcome = "stale"
    elif is_reminder(row, ctx.now):
        outcome = await _remind(ctx, row)
    else:
        late = max(0.0, (ctx.now - row.due_at).total_seconds())
        outcome = await _expire(ctx, row)
    ctx.count(outcome, row.kind, late)
    return outcome


async def _remind(ctx: FireContext, row: Row[Any]) -> str:
    quiet = quiet_of(row.policy or {})
    if quiet_holds(row.policy or {}) and quiet.contains(ctx.now):
        later = quiet.next_allowed(ctx.now)
        held = later < row.due_at
        await ctx.set(row, remind_at=later if held else None, next_at=min(later, row.due_at))
        log.info("reminder_held", deadline_id=str(row.deadline_id), until=later.isoformat())
        return "held" if held else "reminder_superseded"
    clock = CLOCK_CN.get(row.kind, row.kind)
    ctx.emit(
        CaseReminder(
            case_id=row.case_id,
            dispatch_id=row.dispatch_id,
            owner_id=row.owner_id,
            clock=row.kind,
            due_at=row.due_at,
            reason=f"催办：{clock}时限将于 {beijing(row.due_at)} 到期，请尽快处理",
        ),
        row.case_id,
    )
    await ctx.set(row, reminded_at=ctx.now, next_at=row.due_at)
    return "reminded"


async def _expire(ctx: FireContext, row: Row[Any]) -> str:
    await ctx.set(row, state="fired", fired_at=ctx.now)
    if row.kind == "report_in":
        await report_in_missed(ctx, row)
        return "report_in_missed"
    if row.kind == backlog.KIND:
        return await backlog.remind(ctx, row)
    if row.kind.startswith("escalate."):
        return await ladder_due(ctx, row)
    if row.kind == "progress" and await _never_acknowledged(ctx, row):
        await ctx.set(row, state="disarmed", policy=(row.policy or {}) | {"held": "unacknowledged"})
        return "progress_held"
    return await clock_overdue(ctx, row)


async def _never_acknowledged(ctx: FireContext, row: Row[Any]) -> bool:
    """The dispatch's acknowledge clock is still running or ran out: never acknowledged."""
    return await ctx.acknowledge_state(row.dispatch_id) in ("armed", "fired")
