"""The dispatchers' queue (待派单) and reclassification (改派), the router's write side.

A case enters the queue (:func:`hold`) when intake's triage could not decide its matter
or place (``case.received`` with ``triage.auto`` false), or when a whistle could convene
no one (``whistle.unconvened``). It waits in state ``awaiting_triage`` with a row in
``triage_items`` and a clock: ``case.held_for_triage`` names the desk (the office of the
rules' ``triage.desk`` kind for the case's district, else the city's petition bureau)
and the due time (``triage.queue_within``); the escalation service runs that clock up the
desk's ladder like any other.

A dispatcher (a supervisor key whose area covers the case) picks the matter and the
place (:func:`decide`): the case routes at once by the rules, as if it had come in coded,
and ``case.classified`` stops the clock and tells intake. A reclassification
(:func:`reclassify`) of a case already dispatched closes its open dispatches and routes it
again; the timeline says who changed what and why. Every such choice is kept as a
labelled example (``triage_examples``) for ``shaobao triage train --from-cases``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.router.deps import RouterDeps
from services.router.dispatching import cancel_open_dispatches, dispatch_case, mark_disputed
from services.router.tables import routing_decisions, triage_examples, triage_items
from services.router.unit_of_work import RouterTx, RouterUnit
from shared.auth.scope import location_path
from shared.contracts.events import CaseClassified, CaseHeldForTriage, LocationData, TriageInfo
from shared.domain.case import Case
from shared.domain.display import beijing
from shared.domain.errors import InvalidTransition
from shared.domain.lifecycle import CaseState
from shared.domain.owners import OwnerKind
from shared.domain.routing import Location, RoutingDecision, Urgency
from shared.domain.taxonomy import label

if TYPE_CHECKING:
    from services.router.actions.common import ActionContext

RECLASSIFIABLE = (CaseState.DISPATCHED.value, CaseState.IN_PROGRESS.value)


def desk_for(deps: RouterDeps, location: Mapping[str, Any]) -> str:
    """Whose queue: the desk kind's office serving the place, else the city's bureau."""
    where = Location(**{k: v for k, v in location.items() if v})
    kind = deps.rules.triage.desk
    for k in (kind, OwnerKind.CITY_PETITION_BUREAU):
        owner = deps.owners.serving(k, where)
        if owner is not None:
            return str(owner.id)
    raise LookupError("no triage desk: the owner directory has no city petition bureau")


async def hold(
    ctx: RouterUnit,
    case: Case,
    *,
    source: str,
    reason: str,
    location: Mapping[str, Any],
    triage: TriageInfo | None = None,
) -> None:
    """Put the case in the queue: a new case (free text intake could not decide) or a
    disputed one nobody could be convened for."""
    due = ctx.deps.due(ctx.now, ctx.deps.rules.triage.queue_within)
    desk = desk_for(ctx.deps, location)
    row = {
        "case_id": case.case_id, "state": "open", "source": source, "reason": reason,
        "desk_owner_id": desk, "entered_at": ctx.now, "due_at": due,
        "triage": triage.model_dump(mode="json") if triage is not None else None,
        "decided_by": None, "decided_at": None, "decision": None,
    }  # fmt: skip
    if ctx.cases.is_new(case):  # its row joins the transaction's inserts
        ctx.defer(triage_items, row)
    else:  # a case that comes back to the queue opens its row again
        await ctx.conn.execute(
            pg_insert(triage_items)
            .values(row)
            .on_conflict_do_update(index_elements=[triage_items.c.case_id], set_=row)
        )
    case.hold(
        ctx.now,
        reason=f"转派单员人工分派（{ctx.deps.owners.name_of(desk)}，{_clock_cn(due)}）：{reason}",
        detail={"desk_owner_id": desk, "due_at": due.isoformat(), "source": source},
    )
    case.emit(
        CaseHeldForTriage(
            case_id=case.case_id, desk_owner_id=desk, due_at=due, reason=reason,
            urgency=case.urgency, location=LocationData(**location),
        )
    )  # fmt: skip


def _clock_cn(due: datetime) -> str:
    return f"请于 {beijing(due)} 前派单"


async def decide(
    ctx: ActionContext,
    case: Row[Any],
    *,
    category: str,
    location: Mapping[str, str | None],
    reason: str,
) -> str:
    """A dispatcher's pick for a case in the queue: it routes at once. Returns its state."""
    if case.state != CaseState.AWAITING_TRIAGE.value:
        raise InvalidTransition(
            case.state, "triage", f"此件不在待派单队列中（当前：{label(case.state)}）"
        )
    item = await _item(ctx, case.case_id)
    decision = _route(ctx, case, category, location)
    why = _why(ctx, case, category, location, reason, "派单员判定")
    held = ctx.cases.adopt(case)
    _store(ctx, held, category, location, decision)
    held.triage(ctx.now, actor=ctx.key.actor, reason=why, rule_version=decision.ruleset_version)
    await ctx.conn.execute(
        update(triage_items)
        .where(triage_items.c.case_id == case.case_id)
        .values(state="decided", decided_by=ctx.key.actor, decided_at=ctx.now,
                decision={"category": category, "location": dict(location), "reason": reason})
    )  # fmt: skip
    suggested = _suggested(item)
    await _classified(ctx, case, "triage", category, location, reason, suggested)
    return await _route_on(ctx, held, decision)


async def reclassify(
    ctx: ActionContext,
    case: Row[Any],
    *,
    category: str,
    location: Mapping[str, str | None],
    reason: str,
) -> str:
    """Change the matter and/or place of a case already dispatched: its open dispatches
    close and it routes again by the rules. Returns its new state."""
    if case.state == CaseState.AWAITING_TRIAGE.value:
        return await decide(ctx, case, category=category, location=location, reason=reason)
    if case.state not in RECLASSIFIABLE:
        raise InvalidTransition(
            case.state, "reclassify",
            f"只有已派单、办理中的诉求可以重新分类（当前：{label(case.state)}）",
        )  # fmt: skip
    decision = _route(ctx, case, category, location)
    why = _why(ctx, case, category, location, reason, "重新分类")
    moved = ctx.cases.adopt(case)
    _store(ctx, moved, category, location, decision)
    moved.reroute(ctx.now, actor=ctx.key.actor, reason=why, action="reclassify",
                  rule_version=decision.ruleset_version)  # fmt: skip
    await cancel_open_dispatches(ctx, case.case_id, reason=f"重新分类：{reason}")
    await _classified(ctx, case, "reclassify", category, location, reason, None)
    return await _route_on(ctx, moved, decision)


def _route(
    ctx: ActionContext, case: Row[Any], category: str, location: Mapping[str, str | None]
) -> RoutingDecision:
    rules = ctx.deps.rules
    decision: RoutingDecision = ctx.deps.decide(
        category=category,
        location=Location(**location),
        urgency=Urgency(case.urgency),
        # as when the case came in (handlers/case_received.py): the community convenes a
        # linked handling and joins a key person's case
        community_convenes=case.channel == "early_warning"
        or (bool(case.key_person) and rules.key_persons.community == "co_handler"),
    )
    return decision


async def _route_on(ctx: RouterUnit, case: Case, decision: RoutingDecision) -> str:
    if decision.lead_owner_id is None or decision.disputed:
        await mark_disputed(ctx, case, decision)
        return CaseState.DISPUTED.value
    await dispatch_case(ctx, case, decision)
    return CaseState.DISPATCHED.value


def _store(
    ctx: ActionContext,
    case: Case,
    category: str,
    location: Mapping[str, str | None],
    decision: RoutingDecision,
) -> None:
    """The case's new matter and place (written with its move) and the routing record."""
    where = dict(location)
    case.reclassify(
        category=category, location=where, area_path=location_path(where),
        tier=decision.tier.value, rule_id=decision.matched_rule_id,
        ruleset_version=decision.ruleset_version,
    )  # fmt: skip
    ctx.defer(
        routing_decisions,
        {
            "case_id": case.case_id, "decided_at": ctx.now,
            "ruleset_version": decision.ruleset_version,
            "decision": decision.model_dump(mode="json") | {"decided_by": ctx.key.actor},
        },
    )  # fmt: skip


def _why(
    ctx: ActionContext,
    case: Row[Any],
    category: str,
    location: Mapping[str, str | None],
    reason: str,
    what: str,
) -> str:
    names = ctx.deps.rules.categories
    parts = []
    if category != case.category:
        parts.append(
            f"类别「{names.get(case.category, case.category)}」→「{names.get(category, category)}」"
        )
    old, new = location_path(case.location) or "不明", location_path(location) or "不明"
    if old != new:
        parts.append(f"地点 {old} → {new}")
    return f"{what}：{'，'.join(parts) or '确认原类别和地点'}。理由：{reason}"


async def _item(ctx: RouterTx, case_id: UUID) -> Row[Any] | None:
    found: Row[Any] | None = (
        await ctx.conn.execute(
            select(triage_items).where(triage_items.c.case_id == case_id).with_for_update()
        )
    ).first()
    return found


def _suggested(item: Row[Any] | None) -> tuple[str | None, str | None]:
    info = (item.triage or {}) if item is not None else {}
    top = info.get("suggestions") or []
    return (top[0]["category"] if top else None), info.get("model_version")


async def _classified(
    ctx: ActionContext,
    case: Row[Any],
    kind: str,
    category: str,
    location: Mapping[str, str | None],
    reason: str,
    suggested: tuple[str | None, str | None] | None,
) -> None:
    top, version = suggested or (None, None)
    ctx.emit(
        CaseClassified(
            case_id=case.case_id, kind=kind, category=category,
            location=LocationData(**location), previous_category=case.category,
            previous_location=LocationData(**case.location), decided_by=ctx.key.actor,
            reason=reason, model_version=version,
        ),
        case_id=case.case_id,
    )  # fmt: skip
    await learn(ctx, case, category, location, source=kind, suggested=top, model_version=version)


async def learn(
    ctx: ActionContext,
    case: Row[Any],
    category: str,
    location: Mapping[str, str | None] | None,
    *,
    source: str,
    suggested: str | None = None,
    model_version: str | None = None,
) -> None:
    """Keep a person's choice of the matter as a labelled example."""
    await ctx.conn.execute(
        triage_examples.insert().values(
            case_id=case.case_id, text=f"{case.title}\n{case.description or ''}",
            category=category, location=dict(location) if location is not None else None,
            source=source, actor=ctx.key.actor, suggested=suggested,
            model_version=model_version, created_at=ctx.now,
        )
    )  # fmt: skip
