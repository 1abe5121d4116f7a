"""Dead letters over HTTP, for ops (``shared.messaging.dead_letters``; the command line has
the same as ``shaobao dlq``): ``GET /v1/dead-letters/{service}`` lists what a service's
consumer refused for good (ops and admin; looking puts every message back), ``POST
/v1/dead-letters/{service}/replay`` publishes up to ``limit`` back to the exchange (admin
only, as a delivery's replay; audited as every admin request). No area: system data."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import aio_pika.exceptions
import aiormq.exceptions
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.messaging import dead_letters
from shared.web.problems import KEYED, Problem

router = APIRouter(prefix="/v1/dead-letters", tags=["ops"], responses=KEYED)
OpsKey = Annotated[ApiKey, require(Role.OPS)]
AdminKey = Annotated[ApiKey, require(Role.ADMIN)]
Service = Literal["intake", "router", "escalation", "notifier"]
AWAY = "消息队列不可达，请稍后再试 (broker unreachable)"
UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: {"model": Problem, "description": AWAY}}


class DeadLetterRead(BaseModel):
    message_id: str | None
    event_type: str
    events: int | None = Field(description="一条消息中的事件数（批量消息可多于 1；无法解析为空）")
    reason: str = Field(description="被拒绝的原因")


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=10_000, description="至多重放多少条")


class Replayed(BaseModel):
    replayed: int


@router.get(
    "/{service}", response_model=list[DeadLetterRead], summary="死信 (dead letters)",
    responses=UNAVAILABLE,
)  # fmt: skip
async def list_dead_letters(
    service: Service, key: OpsKey, request: Request
) -> list[DeadLetterRead]:
    urls = request.app.state.runtime.settings.amqp_urls
    try:
        found = await dead_letters.look(urls, service, limit=500)
    except (aio_pika.exceptions.AMQPError, aiormq.exceptions.AMQPError, OSError) as exc:
        raise HTTPException(503, AWAY, headers={"Retry-After": "5"}) from exc
    return [DeadLetterRead(**d.__dict__) for d in found]


@router.post(
    "/{service}/replay", response_model=Replayed, summary="重放死信 (replay dead letters)",
    responses=UNAVAILABLE,
)  # fmt: skip
async def replay_dead_letters(
    service: Service, body: ReplayIn, key: AdminKey, request: Request
) -> Replayed:
    settings = request.app.state.runtime.settings
    try:
        done = await dead_letters.replay(
            settings.amqp_urls, settings.exchange, service, limit=body.limit
        )
    except (aio_pika.exceptions.AMQPError, aiormq.exceptions.AMQPError, OSError) as exc:
        raise HTTPException(503, AWAY, headers={"Retry-After": "5"}) from exc
    return Replayed(replayed=done)
