"""退单: the owner says the matter is not theirs, with a reason code.

A co-handler's return leaves the case where it is. A lead's return re-routes the case to
the next candidate (the owners who returned it are excluded); when no candidate is
left, or the case has already been returned once (ping-pong between owners is a
jurisdiction failure), the case is marked disputed and the escalation service blows
the whistle instead of making another hop. A lead a superior designated after a whistle
cannot return the case (409): it asks that office to reconsider (:mod:`.reconsider`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Row, insert

from services.router.actions.common import ActionContext, lock_dispatch
from services.router.dispatching import dispatch_case, mark_disputed
from services.router.tables import routing_decisions
from services.router.triage import learn
from shared.contracts.events import DispatchReturned
from shared.domain.case import Case
from shared.domain.errors import InvalidTransition
from shared.domain.lifecycle import DispatchRole, DispatchState
from shared.domain.routing import Location, RoutingDecision, Urgency, route
from shared.domain.taxonomy import ReturnReason, label

REASON_CN = {
    ReturnReason.NOT_OUR_JURISDICTION: "非本单位职责",
    ReturnReason.WRONG_LOCATION: "地址不在辖区",
    ReturnReason.NEEDS_OTHER_DEPARTMENT: "需其他部门办理",
    ReturnReason.MARKET_MATTER: "市场主体事项",
}
MAX_LEAD_RETURNS = 2


async def return_dispatch(
    ctx: ActionContext,
    dispatch_id: UUID,
    *,
    reason_code: ReturnReason,
    note: str,
    suggested_category: str | None = None,
) -> Row[Any]:
    dispatch, case = await lock_dispatch(ctx, dispatch_id)
    if suggested_category is not None:  # the department names the right matter: an example
        if suggested_category not in ctx.deps.rules.categories:
            raise InvalidTransition(dispatch.state.value, "return_dispatch",
                                    f"类别「{suggested_category}」不在分类表中 (unknown category)")  # fmt: skip
        await learn(ctx, ctx.cases.row(case), suggested_category, None, source="return")
    name = ctx.deps.owners.name_of(dispatch.owner_id)
    dispatch.return_(
        reason_code, ctx.now, actor=ctx.key.actor,
        reason=f"{name} 退单（{REASON_CN.get(reason_code, reason_code)}）：{note}",
    )  # fmt: skip
    step, next_owner, returns = "none", None, 0
    if dispatch.role is DispatchRole.LEAD:
        step, next_owner, returns = await _after_lead_return(ctx, case, reason_code)
    dispatch.emit(
        DispatchReturned(
            case_id=dispatch.case_id,
            dispatch_id=dispatch_id,
            owner_id=dispatch.owner_id,
            role=dispatch.role_name,
            reason_code=reason_code.value,
            note=note,
            returns_on_case=returns,
            next_step=step,
            next_owner_id=next_owner,
        )
    )
    return await ctx.dispatches.row(dispatch)


async def _after_lead_return(
    ctx: ActionContext, case: Case, reason_code: ReturnReason
) -> tuple[str, str | None, int]:
    """Re-route or dispute; returns (next step, next owner, lead returns so far)."""
    returned = [
        d.owner_id
        for d in await ctx.dispatches.of_case(case.case_id)
        if d.role is DispatchRole.LEAD and d.state is DispatchState.RETURNED
    ]
    case.reroute(
        ctx.now, actor=ctx.key.actor, reason=f"主办单位退单（{label(reason_code.value)}），改派中"
    )
    decision = await _reroute_decision(ctx, case, set(returned))
    if len(returned) >= MAX_LEAD_RETURNS or decision.lead_owner_id is None:
        why = (
            f"已被 {len(returned)} 个单位退单（{'、'.join(returned)}）：职责争议，需吹哨报到"
            if len(returned) >= MAX_LEAD_RETURNS
            else f"无其他可派单位：{decision.reason or '规则未给出下一责任单位'}"
        )
        await mark_disputed(ctx, case, decision, reason=why, owners_involved=returned)
        return "disputed", None, len(returned)
    await dispatch_case(ctx, case, decision, co_handlers=False)
    return "rerouted", decision.lead_owner_id, len(returned)


async def _reroute_decision(ctx: ActionContext, case: Case, exclude: set[str]) -> RoutingDecision:
    decision = route(
        ctx.deps.rules,
        ctx.deps.owners,
        category=case.category,
        location=Location(**case.location),
        urgency=Urgency(case.urgency),
        exclude_owners=exclude,
    )
    await ctx.conn.execute(
        insert(routing_decisions).values(
            case_id=case.case_id,
            decided_at=ctx.now,
            ruleset_version=decision.ruleset_version,
            decision=decision.model_dump(mode="json"),
        )
    )
    return decision
