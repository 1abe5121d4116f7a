"""Dispatch a case again to owners a supervisor named (after a whistle, or on deciding a
reconsideration): the tier, urgency and clocks come from routing the case again (the rule
of its category and place); the owners are the supervisor's decision, not the rule's.

A redispatch closes every open dispatch the new plan does not keep, each with a
``cancelled`` timeline row and a ``dispatch.cancelled`` (its clocks stop): the plan keeps
only the open dispatch of a unit that stays co-handler, so no unit ever holds two open
dispatches of one case. The new lead dispatch is always fresh and remembers the office
that designated it (it cannot return the case, only ask that office to reconsider).
"""

from __future__ import annotations

from uuid import UUID

from services.router.dispatching import cancel_open_dispatches, dispatch_case
from services.router.unit_of_work import RouterUnit
from shared.domain.case import Case
from shared.domain.lifecycle import DispatchRole
from shared.domain.routing import Location, RoutingDecision, Urgency, route


def plan_decision(
    ctx: RouterUnit, case: Case, lead: str, co_handlers: list[str]
) -> RoutingDecision:
    deps = ctx.deps
    routed = route(
        deps.rules,
        deps.owners,
        category=case.category,
        location=Location(**case.location),
        urgency=Urgency(case.urgency),
    )
    names = {o: (owner.name if (owner := deps.owners.get(o)) else o) for o in [lead, *co_handlers]}
    return routed.model_copy(
        update={
            "lead_owner_id": lead,
            "co_handler_ids": list(co_handlers),
            "owner_names": names,
            "disputed": False,
        }
    )


async def redispatch(
    ctx: RouterUnit,
    case: Case,
    decision: RoutingDecision,
    *,
    designated_by: str | None,
    reason: str,
) -> None:
    """Close what the plan does not keep, then dispatch the rest of the plan."""
    keep: dict[str, UUID] = {}
    for d in await ctx.dispatches.of_case(case.case_id, open_only=True):
        if d.role is DispatchRole.CO_HANDLER and d.owner_id in decision.co_handler_ids:
            keep.setdefault(d.owner_id, d.dispatch_id)
    await cancel_open_dispatches(ctx, case.case_id, reason=reason, keep=set(keep.values()))
    await dispatch_case(ctx, case, decision, kept=set(keep), designated_by=designated_by)
