"""``GET /v1/escalations``: the escalation record (督办记录) of a case, oldest step first;
a supervisor sees it for a case in its own area only (``readers``).

The operation keeps the ``deadlines`` tag beside ``escalations`` (as does ``backlog``):
the routes were one router's once, and the published API reference stays as it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from services.escalation.api.readers import ReaderKey, unlimited, visible
from services.escalation.tables import deadlines, escalations
from shared.web.problems import KEYED

router = APIRouter(prefix="/v1", tags=["deadlines", "escalations"], responses=KEYED)


class EscalationRead(BaseModel):
    escalation_id: UUID
    case_id: UUID
    dispatch_id: UUID | None
    whistle_id: UUID | None
    clock: str
    level: str
    from_owner_id: str
    to_owner_id: str
    reason: str
    skipped: list[str] | None
    due_at: datetime | None
    created_at: datetime


@router.get(
    "/escalations",
    response_model=list[EscalationRead],
    summary="督办记录 (escalation steps of a case)",
)
async def list_escalations(
    key: ReaderKey, request: Request, case_id: Annotated[UUID, Query()]
) -> list[EscalationRead]:
    async with request.app.state.runtime.engine.connect() as conn:
        if not unlimited(request, key):
            clocks = (
                await conn.execute(select(deadlines.c.policy).where(deadlines.c.case_id == case_id))
            ).all()
            if not visible(request, key, clocks):
                return []
        rows = (
            await conn.execute(
                select(escalations)
                .where(escalations.c.case_id == case_id)
                .order_by(escalations.c.created_at, escalations.c.escalation_id)
            )
        ).all()
    return [EscalationRead.model_validate(r._mapping) for r in rows]
