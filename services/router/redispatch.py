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

from typing import Any

from sqlalchemy import Row, select

from services.router.dispatching import cancel_open_dispatches, dispatch_case
from services.router.tables import dispatches
from shared.domain.lifecycle import OPEN_DISPATCH_STATES, CaseState
from shared.domain.routing import Location, RoutingDecision, Urgency, route


def plan_decision(ctx: Any, case: Row[Any], lead: str, co_handlers: list[str]) -> RoutingDecision:
    deps = ctx.deps
    routed = route(
        deps.rules,
        deps.owners,
        category=case.category,
        location=Location(**case.location),
        urgency=Urgency(case.urgency),
    )
    names = {
        o: (deps.owners.get(o).name if deps.owners.get(o) else o) for o in [lead, *co_handlers]
    }
    return routed.model_copy(
        update={
            "lead_owner_id": lead,
            "co_handler_ids": list(co_handlers),
            "owner_names": names,
            "disputed": False,
        }
    )


async def redispatch(
    ctx: Any,
    case: Row[Any],
    decision: RoutingDecision,
    *,
    designated_by: str | None,
    reason: str,
) -> None:
    """Close what the plan does not keep, then dispatch the rest of the plan."""
    open_rows = (
        await ctx.conn.execute(
            select(dispatches).where(
                dispatches.c.case_id == case.case_id,
                dispatches.c.state.in_(OPEN_DISPATCH_STATES),
            )
        )
    ).all()
    keep: dict[str, Any] = {}
    for row in open_rows:
        if row.role == "co_handler" and row.owner_id in decision.co_handler_ids:
            keep.setdefault(row.owner_id, row.dispatch_id)
    await cancel_open_dispatches(ctx, case.case_id, reason=reason, keep=set(keep.values()))
    await dispatch_case(
        ctx,
        case.case_id,
        decision,
        from_state=CaseState(case.state),
        kept=set(keep),
        designated_by=designated_by,
    )
