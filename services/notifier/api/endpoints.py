"""Endpoints (where an owner hears about its dispatches) and the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.notifier.tables import deliveries, delivery_attempts, endpoints
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role

router = APIRouter(prefix="/v1", tags=["deliveries"])
EndpointKey = Annotated[ApiKey, require(Role.DEPARTMENT)]
OpsKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR)]


class EndpointWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl
    secret: str = Field(min_length=16, max_length=200, description="用于 HMAC-SHA256 签名的密钥")


class EndpointRead(BaseModel):
    owner_id: str
    url: str
    active: bool
    updated_at: datetime


class AttemptRead(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryRead(BaseModel):
    delivery_id: UUID
    event_type: str
    case_id: UUID | None
    dispatch_id: UUID | None
    owner_id: str
    status: str
    attempts: int
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempt_log: list[AttemptRead]


@router.put(
    "/endpoints/{owner_id}", response_model=EndpointRead, summary="登记接收地址 (register webhook)"
)
async def put_endpoint(
    owner_id: str, body: EndpointWrite, key: EndpointKey, request: Request
) -> EndpointRead:
    if key.role is not Role.ADMIN and key.owner_id != owner_id:
        raise HTTPException(403, "只能登记本单位的接收地址 (own endpoint only)")
    runtime = request.app.state.runtime
    values = {
        "url": str(body.url),
        "secret_enc": runtime.deps.vault.seal(body.secret),
        "active": True,
        "updated_at": runtime.clock.now(),
    }
    stmt = pg_insert(endpoints).values(owner_id=owner_id, **values)
    stmt = stmt.on_conflict_do_update(index_elements=[endpoints.c.owner_id], set_=values)
    async with runtime.engine.begin() as conn:
        row = (await conn.execute(stmt.returning(endpoints))).one()
    return EndpointRead.model_validate(row._mapping)


@router.get("/deliveries", response_model=list[DeliveryRead], summary="送达记录 (delivery log)")
async def list_deliveries(
    key: OpsKey,
    request: Request,
    case_id: Annotated[UUID | None, Query()] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryRead]:
    stmt = select(deliveries).order_by(deliveries.c.created_at.desc()).limit(limit)
    if case_id is not None:
        stmt = stmt.where(deliveries.c.case_id == case_id)
    if status is not None:
        stmt = stmt.where(deliveries.c.status == status)
    async with request.app.state.runtime.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
        ids = [r.delivery_id for r in rows]
        attempts = (
            (
                await conn.execute(
                    select(delivery_attempts)
                    .where(delivery_attempts.c.delivery_id.in_(ids))
                    .order_by(delivery_attempts.c.seq)
                )
            ).all()
            if ids
            else []
        )
    by_delivery: dict[UUID, list[AttemptRead]] = {}
    for a in attempts:
        by_delivery.setdefault(a.delivery_id, []).append(AttemptRead.model_validate(a._mapping))
    return [
        DeliveryRead(
            **{k: r._mapping[k] for k in DeliveryRead.model_fields if k in r._mapping},
            attempt_log=by_delivery.get(r.delivery_id, []),
        )
        for r in rows
    ]
