"""Consumes ``feedback.received``; closes the case or reopens it for a second handling.

Satisfied or basically satisfied: ``awaiting_feedback → closed`` with kind = the lead's
resolution outcome and the rating; emits ``case.closed``. Unsatisfied: ``reopen`` and
redispatch (二次办理) led by the community secretary of the case's location, with the
original lead as co-handler and fresh clocks; emits ``case.reopened`` and
``case.dispatched``. Unsatisfied again after a second handling can only close as
``explained``. The rules are the case's (:mod:`shared.domain.case`). Keys on
``case_id`` (the case row is locked); a case not awaiting feedback is a domain error
(dead-lettered with the reason).
"""

from __future__ import annotations

from services.router.dispatching import dispatch_case
from services.router.unit_of_work import HandlerUnit
from shared.contracts.events import FeedbackReceived
from shared.domain.case import Case, second_handling_plan
from shared.domain.dispatch import Dispatch
from shared.domain.lifecycle import DispatchRole
from shared.domain.owners import OwnerKind
from shared.domain.routing import Location, Urgency, route
from shared.domain.taxonomy import CloseKind, Rating
from shared.messaging.consumer import RetryLater


async def on_feedback_received(uow: HandlerUnit, event: FeedbackReceived) -> None:
    case = await uow.cases.get_for_update(event.case_id)
    if case is None:
        raise RetryLater(f"case {event.case_id} not yet stored by the router")
    lead = _last_lead(await uow.dispatches.of_case(case.case_id))
    rating = Rating(event.rating)
    outcome = CloseKind(lead.outcome or "resolved") if lead else CloseKind.RESOLVED
    kind = case.close_kind(rating, outcome)
    actor = f"channel:{event.channel}"
    if kind is not None:
        lead_id = lead.owner_id if lead else None
        case.close_rated(rating, kind, uow.now, actor=actor, lead=lead_id)
        return
    await _second_handling(uow, case, lead, actor)


async def _second_handling(uow: HandlerUnit, case: Case, lead: Dispatch | None, actor: str) -> None:
    deps = uow.deps
    location = Location(**case.location)
    decision = route(deps.rules, deps.owners, category=case.category, location=location,
                     urgency=Urgency(case.urgency))  # fmt: skip
    secretary = deps.owners.serving(OwnerKind.COMMUNITY, location)
    plan = second_handling_plan(
        secretary=secretary.id if secretary else None,
        previous_lead=lead.owner_id if lead else None,
        routed_lead=decision.lead_owner_id,
    )
    case.reopen(plan, uow.now, actor=actor)
    update = {"lead_owner_id": plan.lead, "co_handler_ids": plan.co_handlers}
    await dispatch_case(uow, case, decision.model_copy(update=update))


def _last_lead(dispatches: list[Dispatch]) -> Dispatch | None:
    """The newest lead dispatch (the one whose outcome the case closes with)."""
    leads = [d for d in dispatches if d.role is DispatchRole.LEAD]
    return leads[-1] if leads else None
