"""``POST /v1/cases/{case_id}/visit-feedback``: a 回访 rating taken by phone or at the door.

A supervisor of the case's area (a community or street office) records the rating a
petitioner gave it, for a case of any channel (the originating channel and the SMS link
are the other two paths). It is the same rating as theirs (``accept_rating``): taken once,
only when the result was reported, ``feedback.received`` staged with it, so 不满意 reopens
the case exactly as the other paths do. Who recorded it, how (``phone`` / ``visit``) and
the rating go to ``platform.audit_log`` (``feedback.visit``) in the same transaction. A
case outside the supervisor's area answers 404, as one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import ConfigDict, Field
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.api.feedback import FeedbackAccepted, FeedbackCreate, accept_rating
from shared.auth import audit
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import area_of
from shared.domain.errors import NotFound
from shared.web.problems import BODY, CONFLICT, INVALID, KEYED, NOT_FOUND

router = APIRouter(prefix="/v1", tags=["feedback"], responses=INVALID | NOT_FOUND)
SupervisorKey = Annotated[ApiKey, require(Role.SUPERVISOR)]


class VisitFeedbackCreate(FeedbackCreate):
    model_config = ConfigDict(extra="forbid")

    method: Literal["phone", "visit"] = Field(description="phone 电话回访 / visit 上门回访")


@router.post(
    "/cases/{case_id}/visit-feedback",
    response_model=FeedbackAccepted,
    status_code=202,
    summary="电话或上门回访评价（督办单位代录）(a rating taken by phone or at the door)",
    responses=KEYED | CONFLICT | BODY,
)
async def post_visit_feedback(
    case_id: UUID, body: VisitFeedbackCreate, key: SupervisorKey, request: Request
) -> FeedbackAccepted:
    area = area_of(key, request.app.state.runtime.deps.owners)

    async def in_area_and_audited(conn: AsyncConnection, row: Row[Any]) -> None:
        if not area.covers_location(row.location):
            raise NotFound("诉求不存在 (case not found)")
        await audit.record(conn, key, "feedback.visit", case_id=str(case_id),
                           method=body.method, rating=body.rating)  # fmt: skip

    rating = FeedbackCreate(rating=body.rating, comment=body.comment)
    return await accept_rating(request, case_id, rating, channel=None, check=in_area_and_audited)
