"""The public notice board (公示): resolved key matters, no key needed.

Only structured fields are shown: category, place down to community at most (never a
grid, compound, building or door), tier, urgency, outcome and how the case closed. No
names, phone numbers, ID numbers or free text (which could hold any of them) are stored
for it at all. A category the rules file marks ``never_publish`` is never shown: it is not
published, and rows stored before (or before the rules changed) are filtered and cut to
the public place here as well. Rate-limited per client address.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import ColumnElement, not_, or_, select, true

from services.notifier.tables import case_facts, notices
from shared.auth.dependency import AnonymousLimit
from shared.domain.display import case_label
from shared.domain.notices import NoticePolicy
from shared.web.fields import CATEGORY
from shared.web.problems import ANONYMOUS, INVALID

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


@router.get(
    "/notices",
    response_model=list[NoticeRead],
    summary="公示 (public notice board)",
    dependencies=[AnonymousLimit],
    responses=ANONYMOUS,
)
async def list_notices(
    request: Request,
    category: Annotated[str | None, Query(max_length=64, pattern=CATEGORY)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[NoticeRead]:
    runtime = request.app.state.runtime
    policy: NoticePolicy = runtime.deps.notices.policy
    stmt = (
        select(notices, case_facts.c.case_number)
        .outerjoin(case_facts, case_facts.c.case_id == notices.c.case_id)
        .order_by(notices.c.resolved_at.desc())
        .limit(limit)
    )
    stmt = stmt.where(_publishable(policy))
    if category is not None:
        stmt = stmt.where(notices.c.category == category)
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [_public(r, policy) for r in rows]


def _publishable(policy: NoticePolicy) -> ColumnElement[bool]:
    exact, prefixes = policy.hidden_prefixes()
    hidden: list[ColumnElement[bool]] = [notices.c.category.in_(exact)] if exact else []
    hidden += [notices.c.category.startswith(p, autoescape=True) for p in prefixes]
    return not_(or_(*hidden)) if hidden else true()


def _public(r: object, policy: NoticePolicy) -> NoticeRead:
    m = r._mapping  # type: ignore[attr-defined]
    case_id: UUID = m["case_id"]
    fields = {k: m[k] for k in NoticeRead.model_fields if k not in ("case_ref", "location")}
    return NoticeRead(
        case_ref=case_label(m["case_number"], case_id),
        location=policy.public_place(m["location"]),
        **fields,
    )
