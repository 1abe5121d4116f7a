"""The risk register (矛盾隐患记录表) over HTTP: record, list (due follow-ups), close as
resolved, turn into a case (through intake's own submission path). Rules:
:mod:`services.intake.risks`; who may: :mod:`services.intake.api.prevention_access`."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel

from services.intake import risks as service
from services.intake.api.cases import _accepted, submit_as
from services.intake.api.prevention_access import (
    PATROL_CHANNEL,
    FieldKey,
    ReaderKey,
    area,
    check_field_key,
    check_writes_at,
    fingerprint,
    today,
)
from services.intake.campaigns import campaign_exists
from services.intake.patrols import known_worker
from services.intake.schemas import CaseAccepted
from services.intake.schemas_prevention import RiskClose, RiskCreate, RiskRead, RiskToCase
from shared.auth import audit
from shared.web.problems import BODY, CONFLICT, INVALID, KEYED, NOT_FOUND

router = APIRouter(prefix="/v1/risks", tags=["prevention"], responses=KEYED | INVALID)


class RiskCase(BaseModel):
    risk: RiskRead
    case: CaseAccepted


@router.post("", response_model=RiskRead, status_code=201, summary="登记矛盾隐患 (record a risk)",
             responses=BODY | CONFLICT | {200: {"description": "重复提交：返回第一次的记录"}})  # fmt: skip
async def post_risk(
    body: RiskCreate,
    key: FieldKey,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> RiskRead:
    check_field_key(key)
    path = service.risk_path(body)
    check_writes_at(request, key, path)
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        await known_worker(conn, body.seen_by)
        if body.campaign_id and not await campaign_exists(conn, body.campaign_id):
            raise_unknown_campaign(body.campaign_id)
        read, created = await service.create_risk(
            conn, body, path=path, actor=key.actor, now=runtime.clock.now(),
            idempotency_key=idempotency_key, fingerprint=fingerprint(body),
        )  # fmt: skip
        if created:
            await audit.record(conn, key, "risk.record", risk_id=str(read.risk_id), path=path)
    if not created:
        response.status_code = 200
    return read


def raise_unknown_campaign(campaign_id: str) -> None:
    raise HTTPException(422, f"专项排查 {campaign_id} 不存在 (unknown campaign)")


@router.get("", response_model=list[RiskRead], summary="隐患台账 (the risk register)")
async def list_risks(
    key: ReaderKey,
    request: Request,
    state: Literal["open", "resolved", "case"] | None = None,
    due: Annotated[bool, Query(description="只列到期待跟进的（跟进日期不晚于今天）")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[RiskRead]:
    async with request.app.state.runtime.engine.connect() as conn:
        return await service.list_risks(
            conn, area(request, key), state=state, due_by=today(request) if due else None,
            limit=limit,
        )  # fmt: skip


@router.post("/{risk_id}/close", response_model=RiskRead, summary="隐患已化解 (close as resolved)",
             responses=BODY | CONFLICT | NOT_FOUND)  # fmt: skip
async def close_risk(risk_id: UUID, body: RiskClose, key: FieldKey, request: Request) -> RiskRead:
    check_field_key(key)
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        row = await service.locked(conn, risk_id, area(request, key))
        service.refuse_unless_open(row)
        read = await service.close(conn, row, state="resolved", outcome=body.outcome,
                                   now=runtime.clock.now())  # fmt: skip
        await audit.record(conn, key, "risk.close", risk_id=str(risk_id))
    return read


@router.post("/{risk_id}/case", response_model=RiskCase, status_code=201,
             summary="隐患转诉求 (turn a risk into a case)",
             responses=BODY | CONFLICT | NOT_FOUND | {200: {"description": "已转过：返回该诉求"}})  # fmt: skip
async def risk_to_case(
    risk_id: UUID, body: RiskToCase, key: FieldKey, request: Request, response: Response
) -> RiskCase:
    """Submitted as any case (``grid_patrol``, ``external_id`` ``risk-<id>``): it routes,
    links and alerts as one; asked again, the same case answers (200)."""
    check_field_key(key)
    runtime = request.app.state.runtime
    where = area(request, key)
    async with runtime.engine.connect() as conn:
        row = await service.locked(conn, risk_id, where)
    if row.state == "resolved":
        service.refuse_unless_open(row)
    submitted, staged = await submit_as(request, PATROL_CHANNEL, service.case_of(row, body))
    async with runtime.engine.begin() as conn:
        row = await service.locked(conn, risk_id, where)
        read = await service.close(conn, row, state="case", outcome=row.outcome,
                                   case_id=submitted.case_id, now=row.closed_at or runtime.clock.now())  # fmt: skip
        if row.state != "case":
            await audit.record(conn, key, "risk.case", risk_id=str(risk_id),
                               case_id=str(submitted.case_id))  # fmt: skip
    if not (submitted.created or staged):
        response.status_code = 200
    return RiskCase(risk=read, case=_accepted(submitted))
