"""A supervisor blows the whistle on a case by hand (吹哨): convenes the departments it needs.

Only on a case in its own area: any other answers 404, as an unknown case does."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.router.actions.common import ActionContext
from services.router.actions.whistle import blow_whistle
from services.router.tables import cases
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import area_of
from shared.domain.errors import NotFound
from shared.web.fields import OWNER_ID, Text
from shared.web.problems import BODY, KEYED, Problem

OwnerId = Annotated[str, Field(max_length=64, pattern=OWNER_ID)]
router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=KEYED | BODY)
SupervisorKey = Annotated[ApiKey, require(Role.SUPERVISOR)]


class WhistleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=1, max_length=1000, description="为何需要多部门报到")
    convene: list[OwnerId] = Field(min_length=1, max_length=12, description="召集报到的责任单位 ID")


class WhistleAccepted(BaseModel):
    case_id: UUID
    state: str
    convened: list[str]


@router.post(
    "/{case_id}/whistle",
    response_model=WhistleAccepted,
    status_code=202,
    summary="手动吹哨 (blow the whistle)",
    responses={
        404: {"model": Problem, "description": "诉求不存在 (case not found)"},
        409: {
            "model": Problem,
            "description": "诉求已办结或已结案 (case already resolved or closed)",
        },
    },
)
async def whistle(
    case_id: UUID, body: WhistleIn, key: SupervisorKey, request: Request
) -> WhistleAccepted:
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        location = await conn.scalar(select(cases.c.location).where(cases.c.case_id == case_id))
        if not area_of(key, runtime.deps.owners).covers_location(location):
            raise NotFound("诉求不存在 (case not found)")
        ctx = ActionContext(conn=conn, key=key, now=runtime.clock.now(), deps=runtime.deps)
        case = await blow_whistle(ctx, case_id, reason=body.reason, convene=body.convene)
        await ctx.flush()
    runtime.poke_relay()
    return WhistleAccepted(case_id=case_id, state=case.state, convened=body.convene)
