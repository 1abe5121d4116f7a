"""``GET /v1/deadlines``: the clocks (时限) of a case, soonest due first; a supervisor
sees them for a case in its own area only (``readers``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from services.escalation.api.readers import ReaderKey, visible
from services.escalation.tables import deadlines
from shared.web.problems import KEYED

router = APIRouter(prefix="/v1", tags=["deadlines"], responses=KEYED)


class DeadlineRead(BaseModel):
    deadline_id: UUID
    case_id: UUID
    dispatch_id: UUID | None
    whistle_id: UUID | None = None
    owner_id: str
    kind: str
    due_at: datetime
    remind_at: datetime | None = None
    reminded_at: datetime | None = None
    level: int = 0
    state: str
    fired_at: datetime | None = None
    version: int


@router.get("/deadlines", response_model=list[DeadlineRead], summary="时限 (deadlines of a case)")
async def list_deadlines(
    key: ReaderKey, request: Request, case_id: Annotated[UUID, Query()]
) -> list[DeadlineRead]:
    async with request.app.state.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(deadlines).where(deadlines.c.case_id == case_id).order_by(deadlines.c.due_at)
            )
        ).all()
    if not visible(request, key, rows):
        return []
    return [DeadlineRead.model_validate(r._mapping) for r in rows]
