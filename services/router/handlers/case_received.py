"""Consumes ``case.received``; routes the case and dispatches it.

Emits ``case.dispatched`` (one event listing the lead and co-handler dispatches) or,
when no rule gives an owner or the rule marks the matter as a known jurisdiction
dispute, ``case.disputed`` for the escalation service to blow the whistle. A free-text
case intake's triage could not decide (``triage.auto`` false) waits for a dispatcher
instead (``case.held_for_triage``, :mod:`services.router.triage`).
Keys on ``case_id``: a case already stored is left alone (the insert does nothing).
"""

from __future__ import annotations

from services.router.dispatching import classify_new, create_case, dispatch_case, mark_disputed
from services.router.triage import hold
from services.router.unit_of_work import HandlerUnit
from shared.contracts.events import CaseReceived
from shared.domain.routing import Location, RoutingDecision, Urgency

EARLY_WARNING = "early_warning"  # intake's channel for linked handlings (services/intake/linked.py)


async def on_case_received(ctx: HandlerUnit, event: CaseReceived) -> None:
    deps = ctx.deps
    decision = deps.decide(
        category=event.category,
        location=Location(**event.location.model_dump()),
        urgency=Urgency(event.urgency),
        # a linked handling opened by an early warning: the community convenes it; a key
        # person's case: the community office joins it (rules.yaml ``key_persons``)
        community_convenes=event.channel == EARLY_WARNING
        or (event.key_person and deps.rules.key_persons.community == "co_handler"),
    )
    case = await create_case(ctx, event, decision)
    if case is None:
        return  # stored already
    why = _needs_a_person(event, decision)
    if event.triage is not None and why:  # a person decides the matter or the place
        await hold(ctx, case, source="free_text", reason=why,
                   location=event.location.model_dump(), triage=event.triage)  # fmt: skip
        return
    classify_new(ctx, case, event, decision)
    if decision.lead_owner_id is None or decision.disputed:
        await mark_disputed(ctx, case, decision)
    else:
        await dispatch_case(ctx, case, decision)


def _needs_a_person(event: CaseReceived, decision: RoutingDecision) -> str:
    """Why a free-text case waits for a dispatcher ("" when it routes by itself): intake's
    triage was unsure, or the place it found is too coarse for the rules to name a lead
    (a street, where the matter needs its compound) — a guess is no jurisdiction dispute."""
    triage = event.triage
    if triage is None:
        return ""
    if not triage.auto:
        return triage.reason
    if decision.lead_owner_id is None and not triage.place_given:
        return f"地点只到「{decision.location.path() or '全市'}」，按规则定不出主办单位"
    return ""
