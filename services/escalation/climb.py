"""One step up the ladder (督办): the typed record, the event, and the next rung's clock.

Used by :mod:`services.escalation.firing` inside the scanner's transaction; ``ctx`` gives
``conn``, ``now``, ``deps`` and ``emit``. Every skip is logged with its reason and kept on
the escalation row; when nobody is left above, the ladder ends with a warning.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import Row, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.escalation.ladder import CLOCK_CN, next_reachable, rungs_above
from services.escalation.policy import delay_of
from services.escalation.tables import deadlines, escalations, whistle_members
from shared.contracts.events import CaseEscalated
from shared.domain.owners import KIND_LABELS
from shared.domain.taxonomy import Location
from shared.ids import new_id

log = structlog.get_logger(__name__)


async def climb(ctx: Any, row: Row[Any], *, clock: str, start: int) -> None:
    """Escalate the dispatch of ``row`` to the first reachable rung from ``start``."""
    deps, policy = ctx.deps, row.policy or {}
    dispatch_owner = policy.get("dispatch_owner_id", row.owner_id)
    rungs = rungs_above(deps.owners, dispatch_owner, Location(**policy.get("location", {})))
    step = next_reachable(rungs, start, unreachable=frozenset(deps.policy.unreachable))
    for reason in step.skipped:
        log.info("escalation_level_skipped", case_id=str(row.case_id), reason=reason)
    if step.owner is None:
        log.warning("escalation_ladder_exhausted", case_id=str(row.case_id), clock=clock)
        return
    kind = rungs[step.index].kind
    due = deps.calendar.add(ctx.now, delay_of(policy, kind.value))
    source = deps.owners.get(row.owner_id)
    reason = (
        f"{CLOCK_CN.get(clock, clock)}时限已过（应于 {row.due_at.isoformat()}），"
        f"{source.name if source else row.owner_id} 未办，升级至{KIND_LABELS[kind]}"
        f"「{step.owner.name}」督办，须于 {due.isoformat()} 前推动"
    )
    await record(ctx, row, clock, kind.value, step.owner.id, reason, due, step.skipped)
    await _arm_rung(ctx, row, clock, step.owner.id, step.index, due)


async def _arm_rung(ctx: Any, row: Row[Any], clock: str, owner: str, level: int, due: Any) -> None:
    """The ``escalate.<clock>`` row of the dispatch, (re-)armed for the rung just told."""
    changes = {
        "owner_id": owner, "due_at": due, "next_at": due, "level": level, "state": "armed",
        "fired_at": None, "updated_at": ctx.now,
    }  # fmt: skip
    stmt = pg_insert(deadlines).values(
        deadline_id=new_id(),
        case_id=row.case_id,
        dispatch_id=row.dispatch_id,
        kind=f"escalate.{clock}",
        policy=row.policy,
        created_at=ctx.now,
        **changes,
    )
    await ctx.conn.execute(
        stmt.on_conflict_do_update(
            constraint="uq_deadline_dispatch_kind",
            set_=changes | {"version": deadlines.c.version + 1},
        )
    )


async def report_in_missed(ctx: Any, row: Row[Any]) -> None:
    """A convened owner did not report in: its parent (the first reachable) is told."""
    await ctx.conn.execute(
        update(whistle_members)
        .where(
            whistle_members.c.whistle_id == row.whistle_id,
            whistle_members.c.owner_id == row.owner_id,
            whistle_members.c.state == "convened",
        )
        .values(state="missed")
    )
    unreachable = set(ctx.deps.policy.unreachable)
    above = [o for o in ctx.deps.owners.chain(row.owner_id)[1:] if o.id not in unreachable]
    if not above:
        log.warning("report_in_escalation_skipped", owner=row.owner_id, reason="无上级单位")
        return
    parent = above[0]
    reason = f"{row.owner_id} 未在 {row.due_at.isoformat()} 前报到，报其上级「{parent.name}」督办"
    await record(ctx, row, "report_in", parent.kind.value, parent.id, reason, None, [])


async def record(
    ctx: Any,
    row: Row[Any],
    clock: str,
    level: str,
    to_owner: str,
    reason: str,
    due: Any,
    skipped: list[str],
) -> None:
    """The typed escalation row and its ``case.escalated`` event."""
    escalation_id = new_id()
    values = {
        "escalation_id": escalation_id, "case_id": row.case_id, "dispatch_id": row.dispatch_id,
        "whistle_id": row.whistle_id, "clock": clock, "level": level,
        "from_owner_id": row.owner_id, "to_owner_id": to_owner, "reason": reason,
    }  # fmt: skip
    await ctx.conn.execute(
        insert(escalations).values(
            **values, skipped=skipped or None, due_at=due, created_at=ctx.now
        )
    )
    ctx.emit(CaseEscalated(**values, next_due_at=due), row.case_id)
