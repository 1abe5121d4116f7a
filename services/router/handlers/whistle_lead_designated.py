"""Consumes ``whistle.lead_designated``; dispatches the disputed case to the designated lead
and co-handlers with fresh clocks (from now), and emits ``case.dispatched``. For a case a
supervisor whistled while it was in hand, the open dispatches are cancelled first
(``dispatch.cancelled`` stops their clocks) and the case keeps its state.

The tier, urgency and clocks come from routing the case again (the rule of its category and
place); the owners are the supervisor's decision, not the rule's. Keys on ``case_id``: a case
not stored yet is retried; a case no longer disputed (already re-dispatched) is left alone.
"""

from __future__ import annotations

import structlog
from sqlalchemy import select

from services.router import timeline
from services.router.dispatching import cancel_open_dispatches, dispatch_case
from services.router.tables import cases
from shared.contracts.events import WhistleLeadDesignated
from shared.domain.lifecycle import CaseState
from shared.domain.routing import Location, Urgency, route
from shared.messaging.consumer import HandlerContext, RetryLater

log = structlog.get_logger(__name__)


async def on_whistle_lead_designated(ctx: HandlerContext, event: WhistleLeadDesignated) -> None:
    case = (
        await ctx.conn.execute(
            select(cases).where(cases.c.case_id == event.case_id).with_for_update()
        )
    ).first()
    if case is None:
        raise RetryLater(f"case {event.case_id} not stored yet")
    in_hand = case.state in (CaseState.DISPATCHED.value, CaseState.IN_PROGRESS.value)
    if case.state != CaseState.DISPUTED.value and not in_hand:
        log.info("lead_designation_ignored", case_id=str(case.case_id), state=case.state)
        return
    deps = ctx.deps
    routed = route(
        deps.rules,
        deps.owners,
        category=case.category,
        location=Location(**case.location),
        urgency=Urgency(case.urgency),
    )
    owners = [event.lead_owner_id, *event.co_handler_ids]
    decision = routed.model_copy(
        update={
            "lead_owner_id": event.lead_owner_id,
            "co_handler_ids": list(event.co_handler_ids),
            "owner_names": {
                o: (deps.owners.get(o).name if deps.owners.get(o) else o) for o in owners
            },
            "disputed": False,
        }
    )
    await timeline.record(
        ctx,
        case_id=case.case_id,
        at=ctx.now,
        actor=event.designated_by,
        action="lead_designated",
        from_state=case.state,
        to_state=case.state,
        reason=f"吹哨报到后指定主办 {event.lead_owner_id}"
        + (f"，协办 {'、'.join(event.co_handler_ids)}" if event.co_handler_ids else ""),
        rule_version=routed.ruleset_version,
        detail={"whistle_id": str(event.whistle_id)},
    )
    if in_hand:
        await cancel_open_dispatches(ctx, case.case_id, reason="吹哨报到后重新指定责任单位")
    await dispatch_case(ctx, case.case_id, decision, from_state=CaseState(case.state))
