"""``GET /v1/backlog``: 积案, the cases past the top of the ladder, each with its holder
and next reminder, oldest first; a supervisor sees its own area's only (``readers``)."""

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

# Tagged as escalations' routes are (see services.escalation.api.escalations).
router = APIRouter(prefix="/v1", tags=["deadlines", "escalations"], responses=KEYED)


class BacklogRead(BaseModel):
    case_id: UUID
    holder_id: str
    since: datetime
    next_reminder_at: datetime
    reminded_at: datetime | None


@router.get(
    "/backlog",
    response_model=list[BacklogRead],
    summary="积案 (cases past the top of the ladder)",
)
async def list_backlog(
    key: ReaderKey, request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[BacklogRead]:
    """Oldest first; a supervisor sees the cases of its own area only."""
    # The area is checked per row (a case's place is in its clock's policy), so the rows are
    # read oldest first until ``limit`` visible ones are found: a small area's backlog is
    # never hidden behind the rest of the city's.
    stmt = (
        select(deadlines)
        .where(deadlines.c.kind == "backlog", deadlines.c.state == "armed")
        .order_by(deadlines.c.updated_at)
    )
    found: list[BacklogRead] = []
    async with request.app.state.runtime.engine.connect() as conn:
        async for r in await conn.stream(stmt.execution_options(yield_per=500)):
            if not visible(request, key, [r]):
                continue
            found.append(BacklogRead(
                case_id=r.case_id, holder_id=r.owner_id,
                since=(r.policy or {}).get("backlog_since") or r.updated_at,
                next_reminder_at=r.due_at, reminded_at=r.reminded_at,
            ))  # fmt: skip
            if len(found) >= limit:
                break
    return found
