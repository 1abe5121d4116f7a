"""Escalation's read API: the deadlines of a case, its escalation record, and the backlog
(积案: cases past the top of the ladder, each with its holder and next reminder).

A supervisor gets the rows of a case in its own area only (an empty list for any other):
the case's place is the one its clocks were armed with (``policy.location``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from services.escalation.tables import deadlines, escalations
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import area_of
from shared.web.problems import KEYED

router = APIRouter(prefix="/v1", tags=["deadlines"], responses=KEYED)
ReaderKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR)]


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
    if not _visible(request, key, rows):
        return []
    return [DeadlineRead.model_validate(r._mapping) for r in rows]


@router.get(
    "/escalations",
    response_model=list[EscalationRead],
    tags=["escalations"],
    summary="督办记录 (escalation steps of a case)",
)
async def list_escalations(
    key: ReaderKey, request: Request, case_id: Annotated[UUID, Query()]
) -> list[EscalationRead]:
    async with request.app.state.runtime.engine.connect() as conn:
        if not area_of(key, request.app.state.runtime.deps.owners).unlimited:
            clocks = (
                await conn.execute(select(deadlines.c.policy).where(deadlines.c.case_id == case_id))
            ).all()
            if not _visible(request, key, clocks):
                return []
        rows = (
            await conn.execute(
                select(escalations)
                .where(escalations.c.case_id == case_id)
                .order_by(escalations.c.created_at, escalations.c.escalation_id)
            )
        ).all()
    return [EscalationRead.model_validate(r._mapping) for r in rows]


class BacklogRead(BaseModel):
    case_id: UUID
    holder_id: str
    since: datetime
    next_reminder_at: datetime
    reminded_at: datetime | None


@router.get(
    "/backlog",
    response_model=list[BacklogRead],
    tags=["escalations"],
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
            if not _visible(request, key, [r]):
                continue
            found.append(BacklogRead(
                case_id=r.case_id, holder_id=r.owner_id,
                since=(r.policy or {}).get("backlog_since") or r.updated_at,
                next_reminder_at=r.due_at, reminded_at=r.reminded_at,
            ))  # fmt: skip
            if len(found) >= limit:
                break
    return found


def _visible(request: Request, key: ApiKey, clocks: Sequence[Any]) -> bool:
    """The case of these clocks lies in the key's area (always, for an unlimited key)."""
    area = area_of(key, request.app.state.runtime.deps.owners)
    return area.unlimited or any(
        area.covers_location((c.policy or {}).get("location")) for c in clocks
    )
