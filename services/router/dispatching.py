"""Creating a case and its dispatches from a routing decision (router's write side)."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from services.router import timeline
from services.router.tables import case_attachments, dispatches
from services.router.unit_of_work import HandlerUnit, RouterUnit
from shared.auth.scope import location_path
from shared.contracts.events import (
    CaseDispatched,
    CaseDisputed,
    CaseReceived,
    DispatchInfo,
)
from shared.domain.case import Case
from shared.domain.case_query import searchable
from shared.domain.lifecycle import CaseState, DispatchState, fire_case
from shared.domain.routing import RoutingDecision
from shared.domain.taxonomy import label
from shared.domain.triage_rules import explanation
from shared.ids import new_id


async def create_case(
    ctx: HandlerUnit, event: CaseReceived, decision: RoutingDecision, *, then: str
) -> Case | None:
    """Store the case with its routing decision and the first timeline rows (received,
    triaged), in the state the triaged case takes next (``then``: dispatch or dispute).

    The row is written once, in that state: the case returned is triaged, and the
    caller's ``dispatch_case`` or ``mark_disputed`` moves it on, records the step and
    emits its event; the unit knows the row holds that state already and writes it no
    second time. The state machine still checks both steps here. None (and nothing
    written) when the case is already stored.
    """
    held = then == "hold"  # waits for a dispatcher: services.router.triage.hold follows
    triaged = fire_case(CaseState.RECEIVED, "triage")
    state = fire_case(CaseState.RECEIVED, "hold") if held else fire_case(triaged, then)
    where = event.location.model_dump()
    row = {
        "case_id": event.case_id,
        "state": state.value,
        "channel": event.channel,
        "category": event.category,
        "title": event.title,
        "case_number": event.case_number,
        "description": event.description,
        "address": event.address,
        "location": where,
        "tier": decision.tier.value,
        "urgency": decision.urgency.value,
        "rule_id": decision.matched_rule_id,
        "ruleset_version": decision.ruleset_version,
        "petitioner_ref": event.petitioner_ref,
        "received_at": ctx.cause.occurred_at,
        "external_id": event.external_id,
        "key_person": event.key_person,
        "rebound": event.rebound_of is not None,
        "area_path": location_path(where),
        "search_text": searchable(
            event.case_number, event.external_id, event.title, event.description, event.address
        ),
        # as if stored triaged, then moved on (version 2), at this service's clock
        "updated_at": ctx.now,
        "version": 2,
        # The dispatches that follow (dispatch_case, same unit and clock) are all due to be
        # acknowledged then; stored with the row, the dispatches' trigger
        # (router.refresh_next_due) finds nothing to change, where it would otherwise
        # rewrite the new row and every one of its eleven indexes (trigram included).
        "next_due_at": (
            ctx.deps.due(ctx.now, decision.acknowledge_within) if then == "dispatch" else None
        ),
    }
    case = Case(
        case_id=event.case_id, state=state if held else triaged, version=2 if held else 1,
        ruleset_version=decision.ruleset_version, category=event.category,
        location=where, urgency=event.urgency, title=event.title,
        key_person=event.key_person, channel=event.channel,
    )  # fmt: skip
    if not await ctx.cases.insert_new(case, row, stored_as=state):
        return None  # stored already (the same case sent again): left as it is
    if not held:
        ctx.record_decision(
            event.case_id,
            decision,
            # how intake decided the matter and place, kept with the routing
            None if event.triage is None else {
                "triage": event.triage.model_dump(mode="json"),
                "explanation": explanation(event.triage, ctx.deps.rules.categories,
                                           event.category),
            },
        )  # fmt: skip
    for info in event.attachments:  # the resident's photos and recordings, from intake
        ctx.defer(case_attachments, {**info.model_dump(), "case_id": event.case_id,
                                     "kind": "intake", "dispatch_id": None})  # fmt: skip
    await timeline.record(
        ctx,
        case_id=event.case_id,
        at=ctx.cause.occurred_at,
        actor=f"channel:{event.channel}" + (f"/{event.received_by}" if event.received_by else ""),
        action="received",
        to_state=CaseState.RECEIVED.value,
        reason=f"受理：{event.title}"
        + (f"（回弹件：原解释结案 {str(event.rebound_of)[:8]}）" if event.rebound_of else ""),
    )
    if held:
        return case
    why = _triage_reason(decision)
    if event.triage is not None:
        why = f"{explanation(event.triage, ctx.deps.rules.categories, event.category)}；{why}"
    await timeline.record(
        ctx,
        case_id=event.case_id,
        at=ctx.now,
        actor="router",
        action="triaged",
        from_state=CaseState.RECEIVED.value,
        to_state=triaged.value,
        reason=why,
        rule_version=decision.ruleset_version,
        detail={"model_version": event.triage.model_version} if event.triage else None,
    )
    return case


async def dispatch_case(
    ctx: RouterUnit,
    case: Case,
    decision: RoutingDecision,
    *,
    co_handlers: bool = True,
    kept: Collection[str] = (),
    designated_by: str | None = None,
) -> None:
    """One dispatch for the lead and one per co-handler, each with its own frozen clocks.

    A triaged case is dispatched; a rerouted, disputed or reopened one dispatched again;
    a case in hand keeps its state. A re-route (``co_handlers`` False) makes only the new
    lead's dispatch: the co-handlers' stand. ``kept``: co-handlers whose open dispatch the
    new plan keeps (no second one). ``designated_by``: the office that named the lead
    after a whistle, kept on the lead dispatch (it cannot return the case).
    """
    assert decision.lead_owner_id is not None
    owners = [(decision.lead_owner_id, "lead")]
    if co_handlers:
        owners += [(o, "co_handler") for o in decision.co_handler_ids if o not in kept]
    infos = [
        _create_dispatch(ctx, case.case_id, decision, o, role,
                         designated_by if role == "lead" else None)
        for o, role in owners
    ]  # fmt: skip
    case.dispatch(
        ctx.now,
        reason="派单：" + "、".join(f"{i.owner_name}（{_role_cn(i.role)}）" for i in infos),
        rule_version=decision.ruleset_version,
    )
    case.emit(
        CaseDispatched(
            case_id=case.case_id,
            category=decision.category,
            title=case.title,
            tier=decision.tier.value,
            urgency=decision.urgency.value,
            rule_id=decision.matched_rule_id,
            ruleset_version=decision.ruleset_version,
            location=decision.location.model_dump(),
            dispatches=infos,
        )
    )


async def mark_disputed(
    ctx: RouterUnit,
    case: Case,
    decision: RoutingDecision,
    *,
    reason: str | None = None,
    owners_involved: list[str] | None = None,
) -> None:
    """Nobody owns the matter: hand it to the escalation service to blow the whistle."""
    reason = reason or decision.reason or "无匹配规则，责任单位不明 (no rule matched)"
    case.dispute(ctx.now, actor="router", reason=reason, action="disputed",
                 rule_version=decision.ruleset_version)  # fmt: skip
    case.emit(
        CaseDisputed(
            case_id=case.case_id,
            category=decision.category,
            reason=reason,
            location=decision.location.model_dump(),
            owners_involved=owners_involved
            or [o for o in [decision.lead_owner_id, *decision.co_handler_ids] if o],
            urgency=decision.urgency.value,
        )
    )


def _create_dispatch(
    ctx: RouterUnit,
    case_id: UUID,
    decision: RoutingDecision,
    owner_id: str,
    role: str,
    designated_by: str | None = None,
) -> DispatchInfo:
    """Defer the dispatch row (nothing reads it back before the commit) and describe it."""
    deps = ctx.deps
    owner = deps.owners.get(owner_id)
    dispatch_id = new_id()
    ack_due = deps.due(ctx.now, decision.acknowledge_within)
    resolve_due = deps.due(ctx.now, decision.resolve_within)
    progress_due = deps.due(ctx.now, decision.keep_in_touch) if decision.keep_in_touch else None
    policy = {
        "tier": decision.tier.value,
        "urgency": decision.urgency.value,
        "acknowledge_within": str(decision.acknowledge_within),
        "resolve_within": str(decision.resolve_within),
        "keep_in_touch": str(decision.keep_in_touch) if decision.keep_in_touch else None,
    }
    if designated_by is not None:
        policy["designated_by"] = designated_by
    ctx.defer(
        dispatches,
        {
            "dispatch_id": dispatch_id,
            "case_id": case_id,
            "owner_id": owner_id,
            "role": role,
            "state": DispatchState.PENDING.value,
            "rule_id": decision.matched_rule_id,
            "ruleset_version": decision.ruleset_version,
            "policy": policy,
            "acknowledge_due_at": ack_due,
            "resolve_due_at": resolve_due,
            "progress_due_at": progress_due,
            "created_at": ctx.now,
            "updated_at": ctx.now,
        },
    )
    return DispatchInfo(
        dispatch_id=dispatch_id,
        owner_id=owner_id,
        owner_name=decision.owner_names.get(owner_id) or (owner.name if owner else owner_id),
        role=role,
        acknowledge_due_at=ack_due,
        resolve_due_at=resolve_due,
        progress_due_at=progress_due,
    )


def _role_cn(role: str) -> str:
    return "主办" if role == "lead" else "协办"


def _triage_reason(decision: RoutingDecision) -> str:
    if decision.matched_rule_id is None:
        return "分类：无匹配规则"
    return f"分类：规则 {decision.matched_rule_id}，{label(decision.tier.value)}件"


async def cancel_open_dispatches(
    ctx: RouterUnit, case_id: UUID, *, reason: str, keep: Collection[UUID] = ()
) -> None:
    """Cancel every dispatch of the case still open but those in ``keep``; each gets a
    timeline row and an event."""
    for dispatch in await ctx.dispatches.of_case(case_id, open_only=True):
        if dispatch.dispatch_id not in keep:
            name = ctx.deps.owners.name_of(dispatch.owner_id)
            dispatch.cancel(ctx.now, reason=reason, owner_name=name)
