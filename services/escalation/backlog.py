"""积案: a case still overdue past the top of the ladder.

It is not dropped: one ``case.escalated`` at level ``backlog`` names the top office of the
place (the city petition bureau, else the highest office there is) as its holder, and a
``backlog`` row reminds that holder (``case.reminder``) at a fixed cadence
(``backlog_every`` frozen on the clock; minutes for an emergency) until someone acts: when
no clock of the case is overdue any more, the reminders stop. ``GET /v1/backlog`` lists it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Row

from services.escalation import climb
from services.escalation.ladder import Rung
from shared.contracts.events import CaseReminder
from shared.domain.durations import Duration

if TYPE_CHECKING:
    from services.escalation.fire_context import FireContext

log = structlog.get_logger(__name__)
KIND = "backlog"


def holder_of(rungs: list[Rung]) -> Rung | None:
    """The highest rung of the place that has an office."""
    return next((r for r in reversed(rungs) if r.owner is not None), None)


async def join(
    ctx: FireContext,
    row: Row[Any],
    overdue: list[Row[Any]],
    rungs: list[Rung],
    skipped: list[str],
    *,
    from_owner: str,
    current: Row[Any] | None,
) -> None:
    """The case joins the backlog with the top office as holder."""
    top = holder_of(rungs)
    if top is None or top.owner is None:
        log.warning("escalation_ladder_exhausted", case_id=str(row.case_id), reason="无督办单位")
        return
    policy = row.policy or {}
    every = Duration.parse(policy.get("backlog_every") or "1wd")
    due = ctx.deps.calendar.add(ctx.now, every)
    reason = (
        f"{climb.describe(ctx, overdue)}；已过最高一级督办仍未办理，列入积案，"
        f"由「{top.owner.name}」持有，每 {every} 提醒一次，直至有人办理"
    )
    await climb.record(
        ctx, climb.subject(overdue, row, from_owner), climb.clocks(overdue), KIND,
        top.owner.id, reason, due, skipped, from_owner=from_owner,
    )  # fmt: skip
    await climb.arm_ladder(ctx, row, current, top.owner.id, len(rungs), due, kind=KIND)
    await ctx.set_backlog_policy(row.case_id, policy | {"backlog_since": ctx.now.isoformat()})


async def remind(ctx: FireContext, row: Row[Any]) -> str:
    """The backlog's cadence: remind the holder again, or stop when nobody is overdue."""
    await climb.lock_case(ctx, row.case_id)
    overdue = await climb.overdue_clocks(ctx, row.case_id)
    if not overdue:
        return "answered"
    every = Duration.parse((row.policy or {}).get("backlog_every") or "1wd")
    due = ctx.deps.calendar.add(ctx.now, every)
    ctx.emit(
        CaseReminder(
            case_id=row.case_id,
            dispatch_id=overdue[0].dispatch_id,
            owner_id=row.owner_id,
            clock=KIND,
            due_at=due,
            reason=f"积案提醒：{climb.describe(ctx, overdue)}；请持有单位推动办理",
        ),
        row.case_id,
    )
    await ctx.set(row, state="armed", due_at=due, next_at=due, fired_at=None, reminded_at=ctx.now)
    return "backlog_reminded"
