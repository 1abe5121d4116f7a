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

from services.router import timeline
from services.router.actions.common import ActionContext, move_case
from services.router.tables import cases
from shared.contracts.events import CaseDisputed, LocationData
from shared.domain.errors import InvalidTransition, NotFound
from shared.domain.lifecycle import CaseState

IN_HAND = (CaseState.DISPATCHED.value, CaseState.IN_PROGRESS.value)
UNHELD = (CaseState.TRIAGED.value, CaseState.REROUTING.value)


async def blow_whistle(
    ctx: ActionContext, case_id: UUID, *, reason: str, convene: list[str]
) -> Row[Any]:
    case = (
        await ctx.conn.execute(select(cases).where(cases.c.case_id == case_id).with_for_update())
    ).first()
    if case is None:
        raise NotFound("诉求不存在 (case not found)")
    unknown = [o for o in convene if ctx.deps.owners.get(o) is None]
    if unknown:
        raise InvalidTransition(case.state, "whistle", f"未知责任单位：{'、'.join(unknown)}")
    why = f"{ctx.key.owner_id} 吹哨：{reason}"
    if case.state in UNHELD:
        await move_case(ctx, case, "dispute", reason=why)
    elif case.state in IN_HAND:
        await timeline.record(
            ctx, case_id=case_id, at=ctx.now, actor=ctx.key.actor, action="whistle_requested",
            from_state=case.state, to_state=case.state, reason=why, rule_version=case.ruleset_version,
        )  # fmt: skip
    else:
        raise InvalidTransition(
            case.state,
            "whistle",
            "只有受理后、办结前的诉求可以吹哨 (only open cases, before resolution)",
        )
    ctx.emit(
        CaseDisputed(
            case_id=case_id,
            category=case.category,
            reason=why,
            location=LocationData(**case.location),
            owners_involved=convene,
            urgency=case.urgency,
            blown_by=ctx.key.owner_id,
        ),
        case_id,
    )
    return (await ctx.conn.execute(select(cases).where(cases.c.case_id == case_id))).one()
