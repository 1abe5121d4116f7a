"""A convened unit that did not report in (报到) by its deadline.

The miss goes to the level above the office that blew the whistle (that office is already
waiting for the unit: telling it again is no escalation): the next reachable rung of the
place's ladder above the blower, else the blower's own parent. One escalation per whistle:
a second unit missing the same whistle is named on the escalation already open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Row, select, update

from services.escalation.climb import lock_case, record
from services.escalation.ladder import ladder_of, next_reachable
from services.escalation.tables import escalations, whistle_members, whistles
from shared.domain.display import beijing
from shared.domain.owners import LADDER_KINDS, Owner
from shared.domain.taxonomy import Location

if TYPE_CHECKING:
    from services.escalation.deps import EscalationDeps
    from services.escalation.fire_context import FireContext

log = structlog.get_logger(__name__)


def above_blower(deps: EscalationDeps, blown_by: str, location: Location) -> Owner | None:
    """The first reachable office above the whistle-blower."""
    unreachable = frozenset(deps.policy.unreachable)
    blower = deps.owners.get(blown_by)
    if blower is not None and blower.kind in LADDER_KINDS:
        start = LADDER_KINDS.index(blower.kind) + 1
        step = next_reachable(ladder_of(deps.owners, location), start, unreachable=unreachable)
        if step.owner is not None:
            return step.owner
    chain = deps.owners.chain(blown_by)[1:]
    return next((o for o in chain if o.id not in unreachable), None)


async def report_in_missed(ctx: FireContext, row: Row[Any]) -> None:
    await ctx.conn.execute(
        update(whistle_members)
        .where(
            whistle_members.c.whistle_id == row.whistle_id,
            whistle_members.c.owner_id == row.owner_id,
            whistle_members.c.state == "convened",
        )
        .values(state="missed")
    )
    await lock_case(ctx, row.case_id)
    whistle = (
        await ctx.conn.execute(select(whistles).where(whistles.c.whistle_id == row.whistle_id))
    ).first()
    if whistle is None:
        return
    owner = ctx.deps.owners.get(row.owner_id)
    name = owner.name if owner else row.owner_id
    missed = f"{name} 未在 {beijing(row.due_at)} 前报到"
    if await _join(ctx, row, missed):
        return
    above = above_blower(ctx.deps, whistle.blown_by, Location(**whistle.location))
    if above is None:
        log.warning("report_in_escalation_skipped", owner=row.owner_id, reason="吹哨单位无上级")
        return
    reason = f"{missed}，吹哨单位 {whistle.blown_by} 的上级「{above.name}」督办"
    await record(
        ctx, row, "report_in", above.kind.value, above.id, reason, None, [],
        from_owner=row.owner_id,
    )  # fmt: skip


async def _join(ctx: FireContext, row: Row[Any], missed: str) -> bool:
    """Name this unit on the whistle's open report-in escalation, if there is one."""
    done = await ctx.conn.execute(
        update(escalations)
        .where(escalations.c.whistle_id == row.whistle_id, escalations.c.clock == "report_in")
        .values(reason=escalations.c.reason + f"；另：{missed}")
    )
    return bool(done.rowcount)
