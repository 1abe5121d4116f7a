"""The case's ladder (督办): one escalation per level per case, naming every overdue clock.

Used by :mod:`services.escalation.firing` inside the scanner's transaction; ``ctx`` is a
:class:`~services.escalation.fire_context.FireContext` (``now``, ``deps``, ``emit`` and
the reads and writes of the ladder: at once per row, or staged for a whole batch by
:mod:`services.escalation.staged`). Every writer of a case's ladder first takes the case's
transaction-scoped advisory lock, so two replicas firing two clocks of one case never
start two ladders.

* A clock that runs out (``acknowledge``, ``progress``, ``resolve`` of any dispatch) joins
  the case's ladder: with none running, the case escalates to the first rung above every
  overdue owner (:func:`~services.escalation.ladder.start_for`); with one running at or above
  that rung, the clock is added to the open escalation (its reason names it) and nothing new
  is sent; with one running below it, the case climbs to that rung at once.
* The ladder row (kind ``escalate.case``, no dispatch) fires at its rung's delay: the case
  climbs one rung, naming every clock still overdue; when none is (all answered), it stops.
* Past the city the case joins the backlog (积案, :mod:`services.escalation.backlog`).
Skipped rungs (nobody there, unreachable) are written into the reason, so the timeline
explains them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Row

from services.escalation import backlog
from services.escalation.ladder import CLOCK_CN, NextStep, ladder_of, next_reachable, start_for
from services.escalation.policy import delay_of
from shared.contracts.events import CaseEscalated
from shared.domain.display import beijing
from shared.domain.owners import KIND_LABELS
from shared.domain.taxonomy import Location
from shared.ids import new_id

if TYPE_CHECKING:
    from services.escalation.fire_context import FireContext

log = structlog.get_logger(__name__)
LADDER_KIND = "escalate.case"
BASE_CLOCKS = ("acknowledge", "progress", "resolve", "triage")  # triage: the queue's
ROLE_CN = {"lead": "主办", "co_handler": "协办", "desk": "派单"}


async def lock_case(ctx: FireContext, case_id: Any) -> None:
    """The case's ladder lock, held to the end of the transaction."""
    await ctx.lock_case(case_id)


async def ladder_row(ctx: FireContext, case_id: Any) -> Any:
    """The case's running ladder or backlog row (legacy ``escalate.<clock>`` rows count too)."""
    return await ctx.ladder_row(case_id)


async def overdue_clocks(ctx: FireContext, case_id: Any) -> list[Row[Any]]:
    """The case's clocks that ran out and were not answered since (lead first)."""
    return sorted(await ctx.overdue_clocks(case_id), key=_order)


def _order(row: Row[Any]) -> tuple[int, int, Any]:
    role = (row.policy or {}).get("role", "lead")
    return (0 if role == "lead" else 1, BASE_CLOCKS.index(row.kind), row.due_at)


async def clock_overdue(ctx: FireContext, row: Row[Any]) -> str:
    """A dispatch clock ran out (``row`` already marked fired): join or start the ladder."""
    await lock_case(ctx, row.case_id)
    current = await ladder_row(ctx, row.case_id)
    overdue = await overdue_clocks(ctx, row.case_id)
    start = start_for(ctx.deps.owners, [c.owner_id for c in overdue])
    if current is not None and current.level >= start:
        await _join(ctx, row, current)
        return "joined"
    start = max(start, current.level + 1) if current is not None else start
    await climb(ctx, row, overdue, start=start, from_owner=row.owner_id, current=current)
    return "escalated"


async def ladder_due(ctx: FireContext, row: Row[Any]) -> str:
    """The rung told last did not move the case: up one rung, or stop when all answered."""
    await lock_case(ctx, row.case_id)
    overdue = await overdue_clocks(ctx, row.case_id)
    if not overdue:
        log.info("escalation_ladder_answered", case_id=str(row.case_id))
        return "answered"
    await climb(ctx, row, overdue, start=row.level + 1, from_owner=row.owner_id, current=row)
    return "climbed"


async def climb(
    ctx: FireContext,
    row: Row[Any],
    overdue: list[Row[Any]],
    *,
    start: int,
    from_owner: str,
    current: Row[Any] | None,
) -> None:
    """Tell the first reachable rung from ``start``; past the top, the backlog."""
    deps, policy = ctx.deps, row.policy or {}
    rungs = ladder_of(deps.owners, Location(**policy.get("location", {})))
    step = next_reachable(rungs, start, unreachable=frozenset(deps.policy.unreachable))
    for reason in step.skipped:
        log.info("escalation_level_skipped", case_id=str(row.case_id), reason=reason)
    if step.owner is None:
        await backlog.join(
            ctx, row, overdue, rungs, step.skipped, from_owner=from_owner, current=current
        )
        return
    kind = rungs[step.index].kind
    due = deps.calendar.add(ctx.now, delay_of(policy, kind.value))
    reason = (
        f"{describe(ctx, overdue)}；升级至{KIND_LABELS[kind]}「{step.owner.name}」督办，"
        f"须于 {beijing(due)} 前推动{skipped_note(step)}"
    )
    await record(
        ctx, subject(overdue, row, from_owner), clocks(overdue), kind.value, step.owner.id,
        reason, due, step.skipped, from_owner=from_owner,
    )  # fmt: skip
    await arm_ladder(ctx, row, current, step.owner.id, step.index, due)


def subject(overdue: list[Row[Any]], row: Row[Any], from_owner: str) -> Row[Any]:
    """The clock an escalation names (its dispatch and whistle): the overdue clock of the
    owner it goes up from, so the message that owner gets names its own dispatch (a
    community office that is itself a late co-handler, taken on to the street); else the
    first overdue clock, the lead's before the co-handlers'."""
    own = next((c for c in overdue if c.owner_id == from_owner), None)
    return own if own is not None else (overdue[0] if overdue else row)


def clocks(overdue: list[Row[Any]]) -> str:
    """The escalation's ``clock``: the overdue kinds, in ladder order, comma-joined."""
    kinds = {c.kind for c in overdue}
    return ",".join(k for k in BASE_CLOCKS if k in kinds) or "acknowledge"


def describe(ctx: FireContext, overdue: list[Row[Any]]) -> str:
    """「签收时限已过：幸福社区居委会（主办，应于 …）」 for each overdue clock."""
    parts = []
    for c in overdue:
        owner = ctx.deps.owners.get(c.owner_id)
        name = owner.name if owner else c.owner_id
        role = ROLE_CN.get((c.policy or {}).get("role", ""), "")
        parts.append(
            f"{CLOCK_CN.get(c.kind, c.kind)}时限已过：{name}"
            f"（{role + '，' if role else ''}应于 {beijing(c.due_at)}）未办"
        )
    return "；".join(parts) or "时限已过"


def skipped_note(step: NextStep) -> str:
    return f"（跳过：{'；'.join(step.skipped)}）" if step.skipped else ""


async def _join(ctx: FireContext, row: Row[Any], current: Row[Any]) -> None:
    """Name one more overdue clock on the escalation open at the ladder's rung."""
    await ctx.join_open_escalation(row.case_id, f"；另：{describe(ctx, [row])}")
    log.info("escalation_joined", case_id=str(row.case_id), clock=row.kind, level=current.level)


async def arm_ladder(
    ctx: FireContext,
    row: Row[Any],
    current: Row[Any] | None,
    owner: str,
    level: int,
    due: Any,
    *,
    kind: str = LADDER_KIND,
) -> None:
    """The case's ladder row, (re-)armed for the rung just told."""
    changes = {
        "owner_id": owner, "due_at": due, "next_at": due, "level": level, "state": "armed",
        "remind_at": None, "reminded_at": None, "fired_at": None, "updated_at": ctx.now,
    }  # fmt: skip
    if current is not None:
        await ctx.update_deadline(current.deadline_id, changes | {"kind": kind}, bump=True)
        return
    await ctx.insert_deadline(
        {
            "deadline_id": new_id(), "case_id": row.case_id, "dispatch_id": None, "kind": kind,
            "policy": row.policy, "created_at": ctx.now, **changes,
        }
    )  # fmt: skip


async def record(
    ctx: FireContext,
    row: Row[Any],
    clock: str,
    level: str,
    to_owner: str,
    reason: str,
    due: Any,
    skipped: list[str],
    *,
    from_owner: str | None = None,
) -> None:
    """The typed escalation row and its ``case.escalated`` event."""
    values = {
        "escalation_id": new_id(), "case_id": row.case_id, "dispatch_id": row.dispatch_id,
        "whistle_id": row.whistle_id, "clock": clock, "level": level,
        "from_owner_id": from_owner or row.owner_id, "to_owner_id": to_owner, "reason": reason,
    }  # fmt: skip
    await ctx.insert_escalation(
        values | {"skipped": skipped or None, "due_at": due, "created_at": ctx.now}
    )
    ctx.emit(CaseEscalated(**values, next_due_at=due), row.case_id)
