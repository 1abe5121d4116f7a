"""What an office did with an early warning it was told of: 已收到 (received) and 已处理
(handled, with a note), one mark per alert and office (``alert_marks``).

A supervisor marks for its own office an alert whose place lies in its area (any other is
404, as for the list); marking received twice keeps the first time; handled needs a note
(what was done) and marks received too. ``GET /v1/alerts`` shows every office's marks."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.intake.schemas import AlertMark
from services.intake.tables import alert_marks, alerts
from shared.auth.audit import record
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import area_of
from shared.domain.errors import NotFound
from shared.web.fields import Text
from shared.web.problems import BODY, KEYED, NOT_FOUND

router = APIRouter(prefix="/v1/alerts", tags=["watch"], responses=KEYED | NOT_FOUND | BODY)
OfficeKey = Annotated[ApiKey, require(Role.SUPERVISOR)]
NOT_HERE = "预警不存在 (alert not found)"


class HandledIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text = Field(min_length=1, max_length=1000, description="处理情况（做了什么）")


@router.post("/{alert_id}/received", response_model=AlertMark, summary="预警已收到 (received)")
async def received(alert_id: UUID, key: OfficeKey, request: Request) -> AlertMark:
    return await _mark(request, key, alert_id, note=None)


@router.post("/{alert_id}/handled", response_model=AlertMark, summary="预警已处理 (handled)")
async def handled(alert_id: UUID, body: HandledIn, key: OfficeKey, request: Request) -> AlertMark:
    return await _mark(request, key, alert_id, note=body.note)


async def _mark(request: Request, key: ApiKey, alert_id: UUID, *, note: str | None) -> AlertMark:
    if key.role is not Role.SUPERVISOR or not key.owner_id:
        raise HTTPException(403, "只有被通知的单位可标记预警（管理员不代表任何单位）")
    runtime = request.app.state.runtime
    now = runtime.clock.now()
    area = area_of(key, runtime.deps.owners)
    owner = key.owner_id
    async with runtime.engine.begin() as conn:
        place = await conn.scalar(select(alerts.c.place).where(alerts.c.alert_id == alert_id))
        if place is None or not area.covers(place):
            raise NotFound(NOT_HERE)
        values = {"alert_id": alert_id, "owner_id": owner, "received_at": now,
                  "received_by": key.actor}  # fmt: skip
        stmt = pg_insert(alert_marks).values(values)
        if note is None:  # received again: the first time stands
            stmt = stmt.on_conflict_do_nothing()
        else:
            handled = {"handled_at": now, "handled_by": key.actor, "note": note}
            stmt = (
                pg_insert(alert_marks)
                .values(values | handled)
                .on_conflict_do_update(
                    index_elements=[alert_marks.c.alert_id, alert_marks.c.owner_id], set_=handled
                )
            )
        await conn.execute(stmt)
        await record(conn, key, "alert.handled" if note else "alert.received",
                     alert_id=str(alert_id))  # fmt: skip
        row = (
            await conn.execute(
                select(alert_marks).where(
                    alert_marks.c.alert_id == alert_id, alert_marks.c.owner_id == owner
                )
            )
        ).one()
    return AlertMark.model_validate(dict(row._mapping))
