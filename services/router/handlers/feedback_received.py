"""Consumes ``feedback.received``; closes the case or reopens it for a second handling.

Satisfied or basically satisfied: ``awaiting_feedback → closed`` with kind = the lead's
resolution outcome and the rating; emits ``case.closed``. Unsatisfied: ``reopen`` and
redispatch (二次办理) led by the community secretary of the case's location, with the
original lead as co-handler and fresh clocks; emits ``case.reopened`` and
``case.dispatched``. Unsatisfied again after a second handling can only close as
``explained`` (the lifecycle's rule). Keys on ``case_id`` (the case row is locked); a
case not awaiting feedback is a domain error (dead-lettered with the reason).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select, update

from services.router import timeline
from services.router.dispatching import dispatch_case
from services.router.tables import cases, dispatches
from services.router.tables import timeline as timeline_rows
from shared.contracts.events import CaseClosed, CaseReopened, FeedbackReceived
from shared.domain.lifecycle import CaseState, fire_case
from shared.domain.owners import OwnerKind
from shared.domain.routing import Location, Urgency, route
from shared.domain.taxonomy import CloseKind, Rating
from shared.messaging.consumer import HandlerContext, RetryLater

RATING_CN = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}


async def on_feedback_received(ctx: HandlerContext, event: FeedbackReceived) -> None:
    case = (
        await ctx.conn.execute(
            select(cases).where(cases.c.case_id == event.case_id).with_for_update()
        )
    ).first()
    if case is None:
        raise RetryLater(f"case {event.case_id} not yet stored by the router")
    lead = await _last_lead(ctx, case)
    second = await _was_reopened(ctx, case)
    rating = Rating(event.rating)
    kind = close_kind(rating, second_handling=second, outcome=await _outcome(ctx, lead))
    if kind is None:
        await _reopen(ctx, case, lead, event)
    else:
        await _close(ctx, case, kind, rating, second, lead, event)


def close_kind(rating: Rating, *, second_handling: bool, outcome: CloseKind) -> CloseKind | None:
    """How a rating closes the case, or None when it reopens it (二次办理).

    Satisfied / basically satisfied close with the lead's outcome; unsatisfied reopens
    once, and after a second handling can only close as ``explained``.
    """
    if rating is not Rating.UNSATISFIED:
        return outcome
    return CloseKind.EXPLAINED if second_handling else None


async def _close(
    ctx: HandlerContext,
    case: Row[Any],
    kind: CloseKind,
    rating: Rating,
    second: bool,
    lead: Row[Any] | None,
    event: FeedbackReceived,
) -> None:
    state = fire_case(
        CaseState(case.state), "close", kind=kind, rating=rating, second_handling=second
    )
    await _store(ctx, case, state, close_kind=kind.value)
    await timeline.record(
        ctx,
        case_id=case.case_id,
        at=ctx.now,
        actor=f"channel:{event.channel}",
        action="closed",
        from_state=case.state,
        to_state=state.value,
        reason=f"回访评价：{RATING_CN[rating.value]}，结案（{kind.value}）",
        rule_version=case.ruleset_version,
        detail={"rating": rating.value, "kind": kind.value, "second_handling": second},
    )
    ctx.emit(
        CaseClosed(
            case_id=case.case_id,
            kind=kind.value,
            rating=rating.value,
            lead_owner_id=lead.owner_id if lead else None,
        ),
        case.case_id,
    )


async def _reopen(
    ctx: HandlerContext, case: Row[Any], lead: Row[Any] | None, event: FeedbackReceived
) -> None:
    deps = ctx.deps
    location = Location(**case.location)
    state = fire_case(CaseState(case.state), "reopen", rating=Rating.UNSATISFIED)
    await _store(ctx, case, state)
    decision = route(
        deps.rules,
        deps.owners,
        category=case.category,
        location=location,
        urgency=Urgency(case.urgency),
    )
    secretary = deps.owners.serving(OwnerKind.COMMUNITY, location)
    first = lead.owner_id if lead else decision.lead_owner_id
    new_lead = secretary.id if secretary else first
    co = [o for o in [first] if o and o != new_lead]
    decision = decision.model_copy(update={"lead_owner_id": new_lead, "co_handler_ids": co})
    await timeline.record(
        ctx,
        case_id=case.case_id,
        at=ctx.now,
        actor=f"channel:{event.channel}",
        action="reopened",
        from_state=case.state,
        to_state=state.value,
        reason=f"回访评价：不满意，启动二次办理，由 {new_lead} 牵头",
        rule_version=case.ruleset_version,
        detail={"rating": event.rating, "lead": new_lead, "co_handlers": co},
    )
    ctx.emit(
        CaseReopened(
            case_id=case.case_id,
            rating=event.rating,
            lead_owner_id=str(new_lead),
            co_handler_ids=co,
            previous_lead_owner_id=first,
        ),
        case.case_id,
    )
    await dispatch_case(ctx, case.case_id, decision, from_state=CaseState.REOPENED)


async def _store(ctx: HandlerContext, case: Row[Any], state: CaseState, **values: Any) -> None:
    await ctx.conn.execute(
        update(cases)
        .where(cases.c.case_id == case.case_id)
        .values(state=state.value, updated_at=ctx.now, version=cases.c.version + 1, **values)
    )


async def _last_lead(ctx: HandlerContext, case: Row[Any]) -> Row[Any] | None:
    return (
        await ctx.conn.execute(
            select(dispatches)
            .where(dispatches.c.case_id == case.case_id, dispatches.c.role == "lead")
            .order_by(dispatches.c.created_at.desc())
            .limit(1)
        )
    ).first()


async def _was_reopened(ctx: HandlerContext, case: Row[Any]) -> bool:
    seq = await ctx.conn.scalar(
        select(timeline_rows.c.seq)
        .where(timeline_rows.c.case_id == case.case_id, timeline_rows.c.action == "reopened")
        .limit(1)
    )
    return seq is not None


async def _outcome(ctx: HandlerContext, lead: Row[Any] | None) -> CloseKind:
    """The lead's reported outcome (``resolved`` / ``explained`` / ``referred``)."""
    if lead is None:
        return CloseKind.RESOLVED
    detail = await ctx.conn.scalar(
        select(timeline_rows.c.detail)
        .where(
            timeline_rows.c.dispatch_id == lead.dispatch_id, timeline_rows.c.action == "resolved"
        )
        .order_by(timeline_rows.c.seq.desc())
        .limit(1)
    )
    outcome = (detail or {}).get("outcome", "resolved")
    return CloseKind(outcome)
