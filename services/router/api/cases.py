"""Case queries: the whole case (number, content, address, attachments, dispatches,
timeline), and why a case went where it went.

A supervisor reads the cases of its own area only, a department the cases it holds a live
dispatch of (not returned, not cancelled), a channel the cases it submitted: 404 for any
other, the same answer as for a case that does not exist (``services.router.api.access``)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request
from sqlalchemy import select

from services.router.api.access import in_area, may_read
from services.router.schemas import (
    CaseAttachmentRead,
    CaseRead,
    DispatchRead,
    RoutingRead,
    TimelineEntry,
)
from services.router.tables import case_attachments, cases, dispatches, routing_decisions, timeline
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.domain.errors import NotFound
from shared.domain.taxonomy import label
from shared.web.problems import KEYED, NOT_FOUND

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=KEYED | NOT_FOUND)
ReaderKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR)]
CaseReaderKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR, Role.DEPARTMENT, Role.CHANNEL)]


@router.get("/{case_id}", response_model=CaseRead, summary="诉求全程记录 (case timeline)")
async def get_case(case_id: UUID, key: CaseReaderKey, request: Request) -> CaseRead:
    async with request.app.state.runtime.engine.connect() as conn:
        case = (await conn.execute(select(cases).where(cases.c.case_id == case_id))).first()
        ds = (
            await conn.execute(
                select(dispatches)
                .where(dispatches.c.case_id == case_id)
                .order_by(dispatches.c.created_at)
            )
        ).all()
        if case is None or not may_read(request, key, case, list(ds)):
            raise NotFound("诉求不存在 (case not found)")
        tl = (
            await conn.execute(
                select(timeline).where(timeline.c.case_id == case_id).order_by(timeline.c.seq)
            )
        ).all()
        files = (
            await conn.execute(
                select(case_attachments)
                .where(case_attachments.c.case_id == case_id)
                .order_by(case_attachments.c.attached_at, case_attachments.c.attachment_id)
            )
        ).all()
    names = request.app.state.runtime.deps.rules.categories
    return CaseRead(
        **{k: case._mapping[k] for k in CaseRead.model_fields if k in case._mapping},
        state_label=label(case.state),
        category_name=names.get(case.category, case.category),
        dispatches=[DispatchRead.model_validate(d._mapping) for d in ds],
        timeline=[TimelineEntry.model_validate(t._mapping) for t in tl],
        attachments=[CaseAttachmentRead.of(f._mapping) for f in files],
    )


@router.get(
    "/{case_id}/routing", response_model=list[RoutingRead], summary="派单依据 (routing explanation)"
)
async def get_routing(case_id: UUID, key: ReaderKey, request: Request) -> list[RoutingRead]:
    async with request.app.state.runtime.engine.connect() as conn:
        location = await conn.scalar(select(cases.c.location).where(cases.c.case_id == case_id))
        if location is None or not in_area(request, key, location):
            raise NotFound("诉求不存在或尚未分派 (case not found or not routed yet)")
        rows = (
            await conn.execute(
                select(routing_decisions)
                .where(routing_decisions.c.case_id == case_id)
                .order_by(routing_decisions.c.seq)
            )
        ).all()
    if not rows:
        raise NotFound("诉求不存在或尚未分派 (case not found or not routed yet)")
    return [RoutingRead.model_validate(r._mapping) for r in rows]
