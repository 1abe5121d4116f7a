"""Consumes ``case.reminder``, ``case.escalated``, ``whistle.blown`` and
``whistle.unconvened`` from the escalation service; writes each onto the case's timeline so
the record shows who was chased, who it went up to, who was convened, or that nobody could
be and a dispatcher must assign the case (转派单员人工分派: a disputed case enters the
dispatchers' queue, :mod:`services.router.triage`). An escalation also keeps
whom the case went up to and the level reached on the case, a blown whistle marks it
open (until the lead is designated), for ``GET /v1/cases`` to filter on. Keys on
``case_id``; a case the router does not hold yet is retried."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update

from services.router import timeline
from services.router.handlers import Unit
from services.router.tables import cases
from services.router.triage import hold
from services.router.unit_of_work import HandlerUnit
from shared.contracts.events import CaseEscalated, CaseReminder, WhistleBlown, WhistleUnconvened
from shared.domain.lifecycle import CaseState
from shared.messaging.consumer import RetryLater

LEVEL_CN = {
    "community": "社区", "street": "街道", "street_office": "街道", "district": "区",
    "district_petition_bureau": "区信访办", "city": "市", "city_petition_bureau": "市信访局",
}  # fmt: skip


async def _record(ctx: Unit, case_id: UUID, **row: Any) -> None:
    if await ctx.conn.scalar(select(cases.c.case_id).where(cases.c.case_id == case_id)) is None:
        raise RetryLater(f"case {case_id} not stored yet")
    await timeline.record(ctx, case_id=case_id, at=ctx.cause.occurred_at, actor="escalation", **row)


async def _mark(ctx: Unit, case_id: UUID, **values: Any) -> None:
    """What lists filter on (escalated to, level reached, whistle open): kept on the case."""
    await ctx.conn.execute(update(cases).where(cases.c.case_id == case_id).values(**values))


async def on_case_reminder(ctx: Unit, event: CaseReminder) -> None:
    await _record(
        ctx, event.case_id, action="reminder", dispatch_id=event.dispatch_id,
        reason=f"催办 {ctx.deps.owners.name_of(event.owner_id)}：{event.reason}",
        detail={"clock": event.clock, "due_at": event.due_at.isoformat()},
    )  # fmt: skip


async def on_case_escalated(ctx: Unit, event: CaseEscalated) -> None:
    await _mark(ctx, event.case_id, escalation_level=event.level, escalated_to=func.array_append(
        func.array_remove(cases.c.escalated_to, event.to_owner_id), event.to_owner_id))  # fmt: skip
    await _record(
        ctx, event.case_id, action="escalated", dispatch_id=event.dispatch_id,
        reason=f"督办 {ctx.deps.owners.name_of(event.from_owner_id)} → {ctx.deps.owners.name_of(event.to_owner_id)}（{LEVEL_CN.get(event.level, event.level)}）：{event.reason}",
        detail={"clock": event.clock, "to_owner_id": event.to_owner_id},
    )  # fmt: skip


async def on_whistle_blown(ctx: Unit, event: WhistleBlown) -> None:
    await _mark(ctx, event.case_id, whistle_open=True)
    await _record(
        ctx, event.case_id, action="whistle_blown",
        reason=f"{event.blown_by} 吹哨，召集 {'、'.join(event.convened)} 报到：{event.reason}",
        detail={"whistle_id": str(event.whistle_id), "convened": event.convened},
    )  # fmt: skip


async def on_whistle_unconvened(ctx: HandlerUnit, event: WhistleUnconvened) -> None:
    """Nobody to convene: the case goes to the dispatchers' queue (from disputed)."""
    case = await ctx.cases.get_for_update(event.case_id)
    if case is None:
        raise RetryLater(f"case {event.case_id} not stored yet")
    await timeline.record(
        ctx, case_id=event.case_id, at=ctx.cause.occurred_at, actor="escalation",
        action="whistle_unconvened", reason=f"无可召集单位，转派单员人工分派：{event.reason}",
        detail={"needs_triage": True, "blown_by": event.blown_by},
    )  # fmt: skip
    if case.state is not CaseState.DISPUTED:  # a hand-blown whistle on a case in hand stays
        return
    await hold(ctx, case, source="unconvened", reason=f"无可召集单位：{event.reason}",
               location=event.location.model_dump())  # fmt: skip
