"""A supervisor blows the whistle by hand (吹哨), whatever level the case came in at.

A case nobody holds yet (triaged, rerouting) becomes disputed; a case already in hand
(dispatched, in progress) keeps its state and its dispatches until the supervisor names
the lead after report-in. Either way ``case.disputed`` carries the departments to
convene and ``blown_by``, and the escalation service runs the whistle protocol.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Row, select

from services.router.actions.common import ActionContext
from services.router.tables import cases
from shared.contracts.events import CaseDisputed, LocationData
from shared.domain.errors import InvalidTransition, NotFound
from shared.domain.lifecycle import CaseState

UNHELD = (CaseState.TRIAGED, CaseState.REROUTING)


async def blow_whistle(
    ctx: ActionContext, case_id: UUID, *, reason: str, convene: list[str]
) -> Row[Any]:
    case = await ctx.cases.get_for_update(case_id)
    if case is None:
        raise NotFound("诉求不存在 (case not found)")
    unknown = [o for o in convene if ctx.deps.owners.get(o) is None]
    if unknown:
        raise InvalidTransition(case.state.value, "whistle", f"未知责任单位：{'、'.join(unknown)}")
    why = f"{ctx.key.owner_id} 吹哨：{reason}"
    if case.state in UNHELD:
        case.dispute(ctx.now, actor=ctx.key.actor, reason=why)
    elif case.in_hand:
        case.note(ctx.now, actor=ctx.key.actor, action="whistle_requested", reason=why)
    else:
        raise InvalidTransition(
            case.state.value,
            "whistle",
            "只有受理后、办结前的诉求可以吹哨 (only open cases, before resolution)",
        )
    case.emit(
        CaseDisputed(
            case_id=case_id,
            category=case.category,
            reason=why,
            location=LocationData(**case.location),
            owners_involved=convene,
            urgency=case.urgency,
            blown_by=ctx.key.owner_id,
        )
    )
    await ctx.write()
    return (await ctx.conn.execute(select(cases).where(cases.c.case_id == case_id))).one()
