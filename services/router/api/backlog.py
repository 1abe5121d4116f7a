"""``GET /v1/reports/backlog`` (积案): every open case past any deadline, whatever its
received date, by how many working days it is overdue, with who holds it and how far
it has gone up.

A case is overdue when its nearest open due time (``router.cases.next_due_at``) has
passed. Bands count whole working days past that time (``shared.domain.case_query``):
under 1, 1–5, 5–15, over 15. A supervisor sees its own area, ops and admin all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import and_, case, func, select

from services.router.case_search import area_prefix, scope
from services.router.tables import cases, dispatches
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import area_of
from shared.domain.calendar import WorkingCalendar
from shared.domain.case_query import BAND_CN, BANDS, band_of, overdue_since
from shared.domain.lifecycle import OPEN_DISPATCH_STATES, TERMINAL_CASE_STATES
from shared.domain.taxonomy import label, path_problem
from shared.web.problems import KEYED

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=KEYED)
ReaderKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR)]
DAY = 86_400


class BacklogCase(BaseModel):
    case_id: UUID
    case_number: str | None
    title: str
    state: str
    state_label: str
    received_at: datetime
    due_at: datetime = Field(description="最近的未结派单时限（已过）")
    working_days_overdue: float
    band: str
    owners: list[str] = Field(description="持有未结派单的单位（主办在前）")
    owner_names: list[str]
    escalation_level: str | None = Field(description="已督办到的层级")
    escalated_to: list[str]


class Backlog(BaseModel):
    now: datetime
    area: str
    total: int
    bands: dict[str, int] = Field(description="lt_1 / 1_5 / 5_15 / gt_15 个工作日")
    band_labels: dict[str, str]
    cases: list[BacklogCase] = Field(description="超期最久的在前，至多 limit 条")


@router.get("/backlog", response_model=Backlog, summary="积案 (open cases past any deadline)")
async def backlog(
    key: ReaderKey,
    request: Request,
    area: Annotated[str, Query(max_length=128, description="区域路径前缀，如 d01.s01")] = "",
    limit: Annotated[int, Query(ge=1, le=500, description="列出的积案条数")] = 100,
) -> Backlog:
    if area and (problem := path_problem(area)):
        raise HTTPException(422, f"区域路径无效 (bad area): {problem}")
    runtime = request.app.state.runtime
    now, calendar = runtime.clock.now(), runtime.deps.calendar
    where = [scope(key, area_of(key, runtime.deps.owners)), cases.c.next_due_at < now,
             cases.c.state.not_in([s.value for s in TERMINAL_CASE_STATES])]  # fmt: skip
    if area:
        where.append(area_prefix(area))
    async with runtime.engine.connect() as conn:
        bands = await _bands(conn, where, now, calendar)
        rows = (await conn.execute(select(cases).where(and_(*where))
                                   .order_by(cases.c.next_due_at, cases.c.case_id).limit(limit))).all()  # fmt: skip
        held = await _owners(conn, [r.case_id for r in rows])
    names = runtime.deps.owners
    return Backlog(now=now, area=area, total=sum(bands.values()), bands=bands, band_labels=BAND_CN,
                   cases=[_item(r, held.get(r.case_id, []), names, now, calendar) for r in rows])  # fmt: skip


async def _bands(
    conn: Any, where: list[Any], now: datetime, calendar: WorkingCalendar
) -> dict[str, int]:
    """One count per band, in one pass (the band edges turned into due times)."""
    due = cases.c.next_due_at
    counts = []
    for name, low, high in BANDS:
        cond = [due <= overdue_since(calendar, now, low)]
        if high != float("inf"):
            cond.append(due > overdue_since(calendar, now, high))
        counts.append(func.count().filter(and_(*cond)).label(name))
    row = (await conn.execute(select(*counts).where(and_(*where)))).one()
    return {name: int(row._mapping[name]) for name, _, _ in BANDS}


async def _owners(conn: Any, case_ids: list[UUID]) -> dict[UUID, list[str]]:
    lead_first = case((dispatches.c.role == "lead", 0), else_=1)
    rows = (await conn.execute(
        select(dispatches.c.case_id, dispatches.c.owner_id)
        .where(dispatches.c.case_id.in_(case_ids),
               dispatches.c.state.in_([s.value for s in OPEN_DISPATCH_STATES]))
        .order_by(dispatches.c.case_id, lead_first, dispatches.c.created_at)
    )).all()  # fmt: skip
    held: dict[UUID, list[str]] = {}
    for r in rows:
        if r.owner_id not in held.setdefault(r.case_id, []):
            held[r.case_id].append(r.owner_id)
    return held


def _item(
    row: Any, owners: list[str], names: Any, now: datetime, calendar: WorkingCalendar
) -> BacklogCase:
    late = calendar.working_time_between(row.next_due_at, now).total_seconds() / DAY
    return BacklogCase(
        case_id=row.case_id, case_number=row.case_number, title=row.title, state=row.state,
        state_label=label(row.state), received_at=row.received_at, due_at=row.next_due_at,
        working_days_overdue=round(late, 2), band=band_of(late), owners=owners,
        owner_names=[names.name_of(o) for o in owners], escalation_level=row.escalation_level,
        escalated_to=list(row.escalated_to),
    )  # fmt: skip
