"""Creating a case and its dispatches from a routing decision (router's write side)."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

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
from shared.domain.lifecycle import DispatchState
from shared.domain.routing import RoutingDecision
from shared.domain.taxonomy import label
from shared.domain.triage_rules import explanation
from shared.ids import new_id


async def create_case(
    ctx: HandlerUnit, event: CaseReceived, decision: RoutingDecision
) -> Case | None:
    """The case intake received (its first timeline entry), taken into the unit with
    what the rules made of it; None (and nothing written) when it is stored already.

    The caller moves it on (:func:`classify_new` and :func:`dispatch_case` or
    :func:`mark_disputed`, or :func:`services.router.triage.hold`); its row is written
    once, at commit, in the state it reached (``CaseRepository.add``).
    """
    where = event.location.model_dump()
    received = event.title + (
        f"（回弹件：原解释结案 {str(event.rebound_of)[:8]}）" if event.rebound_of else ""
    )
    case = Case.received(
        event.case_id, ctx.cause.occurred_at,
        actor=f"channel:{event.channel}" + (f"/{event.received_by}" if event.received_by else ""),
        reason=f"受理：{received}", ruleset_version=decision.ruleset_version,
        category=event.category, location=where, urgency=event.urgency, title=event.title,
        key_person=event.key_person, channel=event.channel,
    )  # fmt: skip
    columns = {
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
        "next_due_at": None,  # dispatch_case sets it
    }
    if not await ctx.cases.add(case, columns):
        return None  # stored already (the same case sent again): left as it is
    for info in event.attachments:  # the resident's photos and recordings, from intake
        ctx.defer(case_attachments, {**info.model_dump(), "case_id": event.case_id,
                                     "kind": "intake", "dispatch_id": None})  # fmt: skip
    return case


def classify_new(
    ctx: HandlerUnit, case: Case, event: CaseReceived, decision: RoutingDecision
) -> None:
    """The rules classified a new case: triaged, with its routing record (and how intake's
    triage decided the matter and place, for a free-text case)."""
    explained = (
        None
        if event.triage is None
        else explanation(event.triage, ctx.deps.rules.categories, event.category)
    )
    ctx.record_decision(
        event.case_id,
        decision,
        None if event.triage is None else {
            "triage": event.triage.model_dump(mode="json"), "explanation": explained,
        },
    )  # fmt: skip
    why = _triage_reason(decision)
    case.triage(
        ctx.now, actor="router", action="triaged",
        reason=why if explained is None else f"{explained}；{why}",
        rule_version=decision.ruleset_version,
        detail={"model_version": event.triage.model_version} if event.triage else None,
    )  # fmt: skip


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
    if ctx.cases.is_new(case):
        # Its dispatches are all due to be acknowledged then; stored with the new row, the
        # dispatches' trigger (router.refresh_next_due) finds nothing to change, where it
        # would otherwise rewrite the row and its eleven indexes (trigram included).
        case.changes.values["next_due_at"] = min(i.acknowledge_due_at for i in infos)
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
