"""The whistle protocol (吹哨报到): list, report in, designate the lead.

``GET /v1/whistles``: ops and admin see all; a supervisor sees whistles blown by its own
office or one below it; a department sees those it is convened to. ``report-in``: a
department, for itself, when convened. ``lead``: a supervisor of the blowing office or
above; answers the decided whistle and stages ``whistle.lead_designated`` for the router.
A whistle the caller may not act on answers the same 404 as one that does not exist (its
existence and who blew it are not the caller's business).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.escalation.ladder import may_decide
from services.escalation.tables import outbox, whistle_members, whistles
from services.escalation.whistles import LeadDecision, NotAllowed, designate_lead, report_in
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.contracts.envelope import make_envelope
from shared.db.outbox import write_events
from shared.web.problems import BODY, KEYED, Problem

router = APIRouter(prefix="/v1/whistles", tags=["whistles"], responses=KEYED | BODY)
ReaderKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR, Role.DEPARTMENT)]
DepartmentKey = Annotated[ApiKey, require(Role.DEPARTMENT)]
SupervisorKey = Annotated[ApiKey, require(Role.SUPERVISOR)]
REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "管理员不能代为报到 (admin cannot report in)"},
    404: {
        "model": Problem,
        "description": "哨令不存在，或不在本单位权限内 (not found or not yours)",
    },
    409: {"model": Problem, "description": "哨令已决定 (already decided)"},
}


class MemberRead(BaseModel):
    owner_id: str
    state: str
    reported_at: datetime | None
    reported_by: str | None


class WhistleRead(BaseModel):
    whistle_id: UUID
    case_id: UUID
    category: str
    blown_by: str
    reason: str
    state: str
    report_in_due_at: datetime
    lead_owner_id: str | None
    co_handler_ids: list[str] | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    members: list[MemberRead]


@router.get("", response_model=list[WhistleRead], summary="哨令 (whistles in your area)")
async def list_whistles(
    key: ReaderKey,
    request: Request,
    case_id: Annotated[UUID | None, Query()] = None,
    state: Annotated[str | None, Query(pattern="^(open|decided)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[WhistleRead]:
    stmt = select(whistles).order_by(whistles.c.created_at.desc()).limit(limit)
    if case_id is not None:
        stmt = stmt.where(whistles.c.case_id == case_id)
    if state is not None:
        stmt = stmt.where(whistles.c.state == state)
    owners = request.app.state.runtime.deps.owners
    if key.role is Role.SUPERVISOR:
        mine = [o.id for o in owners.all() if may_decide(owners, key.owner_id, o.id)]
        stmt = stmt.where(whistles.c.blown_by.in_(mine))
    elif key.role is Role.DEPARTMENT:
        convened = select(whistle_members.c.whistle_id).where(
            whistle_members.c.owner_id == key.owner_id
        )
        stmt = stmt.where(whistles.c.whistle_id.in_(convened))
    async with request.app.state.runtime.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
        return [await _read(conn, r) for r in rows]


@router.post(
    "/{whistle_id}/report-in", response_model=WhistleRead, summary="报到", responses=REFUSALS
)
async def report_in_(whistle_id: UUID, key: DepartmentKey, request: Request) -> WhistleRead:
    return await _write(
        request, whistle_id, lambda conn, now: report_in(conn, key, whistle_id, now)
    )


@router.post(
    "/{whistle_id}/lead", response_model=WhistleRead, summary="指定主办与协办", responses=REFUSALS
)
async def designate(
    whistle_id: UUID, body: LeadDecision, key: SupervisorKey, request: Request
) -> WhistleRead:
    owners = request.app.state.runtime.deps.owners
    return await _write(
        request,
        whistle_id,
        lambda conn, now: designate_lead(conn, key, whistle_id, body, now, owners),
    )


async def _write(
    request: Request,
    whistle_id: UUID,
    act: Callable[[AsyncConnection, datetime], Awaitable[BaseModel | None]],
) -> WhistleRead:
    runtime = request.app.state.runtime
    now = runtime.clock.now()
    try:
        async with runtime.engine.begin() as conn:
            payload = await act(conn, now)
            if payload is not None:
                case_id = getattr(payload, "case_id", None)
                envelope = make_envelope(
                    payload, producer="escalation", occurred_at=now, case_id=case_id
                )
                await write_events(conn, outbox, [envelope])
            row = (
                await conn.execute(select(whistles).where(whistles.c.whistle_id == whistle_id))
            ).one()
            read = await _read(conn, row)
    except NotAllowed as exc:
        raise HTTPException(403, str(exc)) from exc
    if payload is not None:
        runtime.poke_relay()
    return read


async def _read(conn: AsyncConnection, row: Any) -> WhistleRead:
    members = (
        await conn.execute(
            select(whistle_members)
            .where(whistle_members.c.whistle_id == row.whistle_id)
            .order_by(whistle_members.c.owner_id)
        )
    ).all()
    return WhistleRead.model_validate({**row._mapping, "members": [m._mapping for m in members]})
