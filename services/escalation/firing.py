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

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.escalation import backlog
from services.escalation.climb import clock_overdue, ladder_due
from services.escalation.ladder import CLOCK_CN
from services.escalation.metrics import FIRED, LATENESS
from services.escalation.policy import quiet_holds, quiet_of
from services.escalation.report_in import report_in_missed
from services.escalation.tables import deadlines
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events import CaseReminder
from shared.domain.display import beijing

log = structlog.get_logger(__name__)


@dataclass
class FireContext:
    """One scanner transaction: connection, time, dependencies and the events to stage."""

    conn: AsyncConnection
    now: datetime
    deps: Any
    events: list[Envelope] = field(default_factory=list)

    def emit(self, payload: BaseModel, case_id: Any) -> None:
        self.events.append(
            make_envelope(payload, producer="escalation", occurred_at=self.now, case_id=case_id)
        )


async def fire(ctx: FireContext, row: Row[Any]) -> str:
    """Handle one claimed row; returns the outcome (also counted in a metric)."""
    fenced = await ctx.conn.scalar(
        update(deadlines)
        .where(
            deadlines.c.deadline_id == row.deadline_id,
            deadlines.c.version == row.version,
            deadlines.c.state == "armed",
        )
        .values(version=deadlines.c.version + 1, updated_at=ctx.now)
        .returning(deadlines.c.version)
    )
    if fenced is None:
        outcome = "stale"
    elif row.reminded_at is None and row.remind_at is not None and ctx.now < row.due_at:
        outcome = await _remind(ctx, row)
    else:
        outcome = await _expire(ctx, row)
    FIRED.labels(outcome).inc()
    return outcome


async def _remind(ctx: FireContext, row: Row[Any]) -> str:
    quiet = quiet_of(row.policy or {})
    if quiet_holds(row.policy or {}) and quiet.contains(ctx.now):
        later = quiet.next_allowed(ctx.now)
        held = later < row.due_at
        await _set(ctx, row, remind_at=later if held else None, next_at=min(later, row.due_at))
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
    await _set(ctx, row, reminded_at=ctx.now, next_at=row.due_at)
    return "reminded"


async def _expire(ctx: FireContext, row: Row[Any]) -> str:
    await _set(ctx, row, state="fired", fired_at=ctx.now)
    LATENESS.labels(row.kind).observe(max(0.0, (ctx.now - row.due_at).total_seconds()))
    if row.kind == "report_in":
        await report_in_missed(ctx, row)
        return "report_in_missed"
    if row.kind == backlog.KIND:
        return await backlog.remind(ctx, row)
    if row.kind.startswith("escalate."):
        return await ladder_due(ctx, row)
    if row.kind == "progress" and await _never_acknowledged(ctx, row):
        await _set(
            ctx, row, state="disarmed", policy=(row.policy or {}) | {"held": "unacknowledged"}
        )
        return "progress_held"
    return await clock_overdue(ctx, row)


async def _never_acknowledged(ctx: FireContext, row: Row[Any]) -> bool:
    """The dispatch's acknowledge clock is still running or ran out: never acknowledged."""
    state = await ctx.conn.scalar(
        select(deadlines.c.state).where(
            deadlines.c.dispatch_id == row.dispatch_id, deadlines.c.kind == "acknowledge"
        )
    )
    return state in ("armed", "fired")


async def _set(ctx: FireContext, row: Row[Any], **values: Any) -> None:
    await ctx.conn.execute(
        update(deadlines).where(deadlines.c.deadline_id == row.deadline_id).values(**values)
    )
