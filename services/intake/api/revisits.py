"""回头看 over HTTP: the explained closures due for a return visit, and recording one (a
matter found alive becomes a rebound case). Rules: :mod:`services.intake.revisits`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from services.intake import revisits as service
from services.intake.api.cases import submit_as
from services.intake.api.prevention_access import (
    PATROL_CHANNEL,
    OfficeKey,
    ReaderKey,
    area,
    fingerprint,
)
from services.intake.schemas_prevention import RevisitCreate, RevisitDue, RevisitRead
from shared.auth import audit
from shared.web.problems import BODY, CONFLICT, INVALID, KEYED, NOT_FOUND

router = APIRouter(prefix="/v1", tags=["prevention"], responses=KEYED | INVALID)


@router.get("/revisits", response_model=list[RevisitDue], summary="待回头看 (return visits due)")
async def list_due(
    key: ReaderKey, request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[RevisitDue]:
    """Explained closures of the key's area closed at least ``revisit_after_days`` ago
    (config/alerts.yaml) and not visited yet, oldest first."""
    runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        return await service.due(
            conn, area(request, key), now=runtime.clock.now(),
            after_days=runtime.deps.policy.revisit_after_days, limit=limit,
        )  # fmt: skip


@router.post("/cases/{case_id}/revisit", response_model=RevisitRead, status_code=201,
             summary="记录回头看 (record a return visit)",
             responses=BODY | CONFLICT | NOT_FOUND | {200: {"description": "重复提交：返回第一次的记录"}})  # fmt: skip
async def post_revisit(
    case_id: UUID, body: RevisitCreate, key: OfficeKey, request: Request, response: Response
) -> RevisitRead:
    """Once per explained closure; ``alive`` opens a new case, a rebound of this one."""
    runtime = request.app.state.runtime
    mark = fingerprint(body)
    async with runtime.engine.connect() as conn:
        row = await service.closure(conn, case_id, area(request, key))
        if (first := await service.recorded(conn, case_id)) is not None:
            response.status_code = 200
            return service.replay(first, mark)
        case = await service.rebound_case(conn, runtime.deps.vault, row, body)
    rebound = None
    if body.outcome == "alive":
        rebound = (await submit_as(request, PATROL_CHANNEL, case))[0].case_id
    async with runtime.engine.begin() as conn:
        read, created = await service.record(
            conn, case_id, body, rebound=rebound, fingerprint=mark, actor=key.actor,
            now=runtime.clock.now(),
        )  # fmt: skip
        if created:
            await audit.record(conn, key, "revisit.record", case_id=str(case_id),
                               outcome=body.outcome, rebound_case_id=str(rebound) if rebound else None)  # fmt: skip
    if not created:
        response.status_code = 200
    return read
