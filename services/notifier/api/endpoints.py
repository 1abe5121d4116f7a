"""Endpoints (where an owner hears about its dispatches) and the delivery log.

An endpoint is a webhook (``http(s)://``, signed) or an email address (``mailto:``, sent
through SMTP). ``GET /v1/deliveries?status=failed`` is what ops look at after a
``delivery.failed``; ``POST /v1/deliveries/{id}/replay`` (and ``shaobao deliveries
replay ID``) puts one back to ``pending``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.notifier.events_out import emit_failed
from services.notifier.tables import (
    DELIVERIES_POLLER,
    case_facts,
    deliveries,
    delivery_attempts,
    endpoints,
)
from shared.auth.dependency import area_for, owners_for, require
from shared.auth.keys import CHANNELS, ApiKey, Role
from shared.auth.scope import Area
from shared.db.types import inline
from shared.domain.errors import NotFound
from shared.security.urls import credentials_refusal, length_refusal, resolve_checked
from shared.web.fields import OWNER_ID, WORD
from shared.web.problems import BODY, KEYED, NOT_FOUND

router = APIRouter(prefix="/v1", tags=["deliveries"], responses=KEYED | NOT_FOUND | BODY)
EndpointKey = Annotated[ApiKey, require(Role.DEPARTMENT)]
ReaderKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR)]
AdminKey = Annotated[ApiKey, require(Role.ADMIN)]


class EndpointWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyUrl = Field(description="http(s):// 回调地址，或 mailto: 邮箱；最多 2048 个字符")
    secret: str = Field(min_length=16, max_length=200, description="用于 HMAC-SHA256 签名的密钥")

    @field_validator("url", mode="before")
    @classmethod
    def _length(cls, url: object) -> object:
        refusal = length_refusal(url) if isinstance(url, str) else None
        if refusal:
            raise ValueError(refusal)
        return url

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: AnyUrl) -> AnyUrl:
        if url.scheme not in ("http", "https", "mailto"):
            raise ValueError("只支持 http、https 或 mailto 地址 (http, https or mailto only)")
        refusal = credentials_refusal(str(url)) if url.scheme != "mailto" else None
        if refusal:
            raise ValueError(refusal)
        return url

    @property
    def kind(self) -> str:
        return "email" if self.url.scheme == "mailto" else "webhook"


class EndpointRead(BaseModel):
    owner_id: str
    url: str
    kind: str
    active: bool
    consecutive_failures: int
    open_until: datetime | None
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
    owner_id: Annotated[str, Path(max_length=64, pattern=OWNER_ID)],
    body: EndpointWrite,
    key: EndpointKey,
    request: Request,
) -> EndpointRead:
    if key.role is not Role.ADMIN and key.owner_id != owner_id:
        raise HTTPException(403, "只能登记本单位的接收地址 (own endpoint only)")
    if owners_for(request).get(owner_id) is None:
        raise NotFound(f"责任单位 {owner_id} 不在名录中 (no such owner)")
    await check_host(request, body)
    return await save_endpoint(request, owner_id, body)


async def check_host(request: Request, body: EndpointWrite) -> None:
    """422 for a webhook host outside the operator's allow-list or with an internal address
    (loopback, private, link-local...; its name is resolved and every address checked)."""
    if body.url.scheme == "mailto":
        return
    allowed = request.app.state.runtime.deps.config.webhook_allowed_hosts
    checked = await resolve_checked(body.url.host, body.url.port or 443, allowed)
    if checked.refusal:
        raise HTTPException(422, checked.refusal)


def check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise NotFound(f"渠道 {channel} 不存在 (no such channel)")


async def save_endpoint(request: Request, owner_id: str, body: EndpointWrite) -> EndpointRead:
    """Create or replace an endpoint; a new address starts with a closed breaker.

    A new address does not inherit the old one's backlog: deliveries still pending for
    the old URL fail as ``endpoint replaced`` (``delivery.failed`` each, listed for ops,
    who replay what should go). Re-sending the same URL (e.g. a new secret) keeps them.
    """
    runtime = request.app.state.runtime
    now = runtime.clock.now()
    values = {
        "kind": body.kind,
        "consecutive_failures": 0,
        "open_until": None,
        "url": str(body.url),
        "secret_enc": runtime.deps.vault.seal(body.secret),
        "active": True,
        "updated_at": now,
    }
    stmt = pg_insert(endpoints).values(owner_id=owner_id, **values)
    stmt = stmt.on_conflict_do_update(index_elements=[endpoints.c.owner_id], set_=values)
    async with runtime.engine.begin() as conn:
        old_url = await conn.scalar(
            select(endpoints.c.url).where(endpoints.c.owner_id == owner_id).with_for_update()
        )
        row = (await conn.execute(stmt.returning(endpoints))).one()
        if old_url is not None and old_url != values["url"]:
            await fail_backlog(conn, owner_id, now)
    runtime.poke_relay()
    runtime.wake(DELIVERIES_POLLER)  # a closed breaker frees what it held
    return EndpointRead.model_validate(row._mapping)


@router.get("/deliveries", response_model=list[DeliveryRead], summary="送达记录 (delivery log)")
async def list_deliveries(
    key: ReaderKey,
    request: Request,
    case_id: Annotated[UUID | None, Query()] = None,
    status: Annotated[str | None, Query(max_length=20, pattern=WORD)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryRead]:
    """Newest first. A supervisor sees the deliveries of cases in its area only."""
    stmt = select(deliveries).order_by(deliveries.c.created_at.desc())
    if case_id is not None:
        stmt = stmt.where(deliveries.c.case_id == case_id)
    if status is not None:
        stmt = stmt.where(deliveries.c.status == status)
    area = area_for(request, key)
    async with request.app.state.runtime.engine.connect() as conn:
        if area.unlimited:
            rows = list((await conn.execute(stmt.limit(limit))).all())
        else:
            rows = await _in_area(conn, stmt, area, limit)
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


@router.post(
    "/deliveries/{delivery_id}/replay",
    response_model=DeliveryRead,
    summary="重新投递 (replay a failed delivery)",
)
async def replay_delivery(delivery_id: UUID, key: AdminKey, request: Request) -> DeliveryRead:
    """Admin only over HTTP (ops keys are read-only); ops replay with ``shaobao deliveries``."""
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        row = await replay(conn, delivery_id, runtime.clock.now())
    runtime.wake(DELIVERIES_POLLER)  # due now
    return DeliveryRead(
        **{k: row._mapping[k] for k in DeliveryRead.model_fields if k in row._mapping},
        attempt_log=[],
    )


async def _in_area(conn: Any, stmt: Any, area: Area, limit: int) -> list[Any]:
    """The first ``limit`` rows of ``stmt`` whose case lies in ``area`` (the SQL narrows to
    the district; the exact check is on each case's stored location)."""
    district = (area.path or "").split(".")[0]
    where = case_facts.c.location["district"].astext
    narrowed = (
        stmt.add_columns(case_facts.c.location.label("case_location"))
        .join(case_facts, case_facts.c.case_id == deliveries.c.case_id)
        .where((where == district) | where.is_(None))
    )
    if not area.known or not district:
        return []
    found = []
    result = await conn.stream(narrowed)
    try:
        async for row in result:
            if area.covers_location(row.case_location):
                found.append(row)
                if len(found) >= limit:
                    break
    finally:
        await result.close()
    return found


async def replay(conn: Any, delivery_id: UUID, now: datetime) -> Any:
    """Back to ``pending`` now, attempts reset: the worker sends it again (same delivery id,
    so a receiver that did get it can dedupe)."""
    row = (
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.delivery_id == delivery_id, deliveries.c.status != "delivered")
            .values(status="pending", attempts=0, next_attempt_at=now, locked_until=None)
            .returning(deliveries)
        )
    ).first()
    if row is None:
        raise NotFound("投递不存在或已送达 (no such undelivered delivery)")
    return row


async def fail_backlog(conn: Any, owner_id: str, now: datetime) -> None:
    rows = (
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.owner_id == owner_id, deliveries.c.status == inline("pending"))
            .values(status="failed", last_error="endpoint replaced", locked_until=None)
            .returning(deliveries)
        )
    ).all()
    for r in rows:
        await emit_failed(conn, r, r.attempts, "endpoint replaced", now)
