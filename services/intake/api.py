"""Intake's HTTP API for channels: submit a case, read its status."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from sqlalchemy import select

from services.intake.schemas import CaseAccepted, CaseCreate, CaseStatus
from services.intake.service import STATUS_LABELS, submit_case
from services.intake.tables import cases
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.web.app import NotFound

router = APIRouter(prefix="/v1/cases", tags=["cases"])
ChannelKey = Annotated[ApiKey, require(Role.CHANNEL)]


@router.post(
    "",
    response_model=CaseAccepted,
    status_code=201,
    summary="提交诉求 (submit a case)",
    responses={200: {"description": "重复提交：返回第一次的工单 (replay)"}},
)
async def create_case(
    body: CaseCreate,
    key: ChannelKey,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> CaseAccepted:
    channel = _channel_of(key, body)
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        submitted, staged = await submit_case(
            conn,
            deps=runtime.deps,
            channel=channel,
            body=body,
            idempotency_key=idempotency_key,
            now=runtime.clock.now(),
        )
    if staged:
        runtime.poke_relay()
    else:
        response.status_code = status.HTTP_200_OK
    return CaseAccepted(
        case_id=submitted.case_id,
        status=submitted.status,
        created=submitted.created,
        received_at=submitted.received_at,
    )


@router.get("/{case_id}", response_model=CaseStatus, summary="查询诉求状态 (case status)")
async def get_case(case_id: UUID, key: ChannelKey, request: Request) -> CaseStatus:
    runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        row = (await conn.execute(select(cases).where(cases.c.case_id == case_id))).first()
    if row is None or (key.role is Role.CHANNEL and row.channel != key.channel):
        raise NotFound("诉求不存在 (case not found)")
    return CaseStatus(
        case_id=row.case_id,
        channel=row.channel,
        external_id=row.external_id,
        category=row.category,
        title=row.title,
        status=row.status,
        status_label=STATUS_LABELS.get(row.status, row.status),
        status_at=row.status_at,
        received_at=row.received_at,
    )


def _channel_of(key: ApiKey, body: CaseCreate) -> str:
    if key.role is not Role.CHANNEL or key.channel is None:
        raise HTTPException(403, "只有渠道密钥可以提交诉求 (only channel keys submit cases)")
    if body.channel is not None and body.channel != key.channel:
        raise HTTPException(
            403, f"密钥属于渠道 {key.channel}，不能以 {body.channel} 名义提交 (channel mismatch)"
        )
    return key.channel
