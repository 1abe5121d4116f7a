"""The department API: a department sees and acts on its own dispatches only."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from shared.domain.lifecycle import DispatchState
from sqlalchemy import select

from services.router.dispatch_actions import acknowledge
from services.router.schemas import DispatchRead
from services.router.tables import dispatches
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role

router = APIRouter(prefix="/v1/dispatches", tags=["dispatches"])
DepartmentKey = Annotated[ApiKey, require(Role.DEPARTMENT)]


@router.get("", response_model=list[DispatchRead], summary="本单位的派单 (own dispatches)")
async def list_dispatches(
    key: DepartmentKey,
    request: Request,
    status: Annotated[DispatchState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DispatchRead]:
    stmt = select(dispatches).order_by(dispatches.c.created_at.desc()).limit(limit)
    if key.role is not Role.ADMIN:
        stmt = stmt.where(dispatches.c.owner_id == key.owner_id)
    if status is not None:
        stmt = stmt.where(dispatches.c.state == status.value)
    async with request.app.state.runtime.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [DispatchRead.model_validate(r._mapping) for r in rows]


@router.post(
    "/{dispatch_id}/acknowledge",
    response_model=DispatchRead,
    summary="签收 (acknowledge)",
    responses={
        409: {"description": "当前状态不允许签收"},
        404: {"description": "不是本单位的派单"},
    },
)
async def acknowledge_dispatch(
    dispatch_id: UUID, key: DepartmentKey, request: Request
) -> DispatchRead:
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        row, changed = await acknowledge(
            conn, key=key, dispatch_id=dispatch_id, now=runtime.clock.now()
        )
    if changed:
        runtime.poke_relay()
    return DispatchRead.model_validate(row._mapping)
