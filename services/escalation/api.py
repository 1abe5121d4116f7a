"""Escalation's read API (the whistle protocol arrives with the escalation issue)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from services.escalation.tables import deadlines
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role

router = APIRouter(prefix="/v1", tags=["deadlines"])
ReaderKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR)]


class DeadlineRead(BaseModel):
    deadline_id: UUID
    case_id: UUID
    dispatch_id: UUID
    owner_id: str
    kind: str
    due_at: datetime
    state: str
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
    return [DeadlineRead.model_validate(r._mapping) for r in rows]
