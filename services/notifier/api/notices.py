"""The public notice board (公示): resolved key matters, no key needed.

Only structured fields are shown: category, place down to compound (never a building,
unit or door), tier, urgency, outcome and how the case closed. No names, phone numbers,
ID numbers or free text (which could hold any of them) are stored for it at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from services.notifier.tables import case_facts, notices
from shared.domain.display import case_label
from shared.web.fields import CATEGORY
from shared.web.problems import INVALID

router = APIRouter(prefix="/v1", tags=["notices"], responses=INVALID)


class NoticeRead(BaseModel):
    case_ref: str
    category: str
    location: dict[str, str]
    tier: str | None
    urgency: str
    outcome: str
    resolved_at: datetime
    closed_kind: str | None
    rating: str | None


@router.get("/notices", response_model=list[NoticeRead], summary="公示 (public notice board)")
async def list_notices(
    request: Request,
    category: Annotated[str | None, Query(max_length=64, pattern=CATEGORY)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[NoticeRead]:
    stmt = (
        select(notices, case_facts.c.case_number)
        .outerjoin(case_facts, case_facts.c.case_id == notices.c.case_id)
        .order_by(notices.c.resolved_at.desc())
        .limit(limit)
    )
    if category is not None:
        stmt = stmt.where(notices.c.category == category)
    async with request.app.state.runtime.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [_public(r) for r in rows]


def _public(r: object) -> NoticeRead:
    m = r._mapping  # type: ignore[attr-defined]
    case_id: UUID = m["case_id"]
    return NoticeRead(
        case_ref=case_label(m["case_number"], case_id),
        **{k: m[k] for k in NoticeRead.model_fields if k != "case_ref"},
    )
