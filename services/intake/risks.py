"""The risk register (矛盾隐患记录表): things seen on patrol that are not yet petitions.

A risk is ``open`` until it is closed ``resolved`` (with its outcome) or turned into a
case (``case``, the case's id kept): the case is submitted through intake's own
submission path on the ``grid_patrol`` channel with ``external_id`` ``risk-<risk id>``, so
it routes, links and alerts like any case and a repeated request answers the same case.
A create with an ``Idempotency-Key`` already used by the same key answers the first risk
(same body) or 409 (another body).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.prevention_facts import in_area
from services.intake.schemas import CaseCreate
from services.intake.schemas_prevention import RiskCreate, RiskRead, RiskToCase
from services.intake.tables_prevention import risks
from shared.auth.scope import Area, location_path
from shared.domain.errors import Conflict, Invalid, NotFound
from shared.ids import new_id

STATE_LABELS = {"open": "待跟进", "resolved": "已化解", "case": "已转诉求"}


def risk_path(body: RiskCreate) -> str:
    path = location_path(body.location.model_dump())
    if path is None:  # LocationIn already refused such a location
        raise Invalid("location 无效 (invalid location)")
    return path


async def create_risk(
    conn: AsyncConnection, body: RiskCreate, *, path: str, actor: str, now: datetime,
    idempotency_key: str | None, fingerprint: str,
) -> tuple[RiskRead, bool]:  # fmt: skip
    values = {
        "risk_id": new_id(), "path": path, "location": body.location.model_dump(exclude_none=True),
        "address": body.address, "category": body.category, "description": body.description,
        "seen_by": body.seen_by, "seen_on": body.seen_on, "follow_up_on": body.follow_up_on,
        "campaign_id": body.campaign_id, "patrol_id": body.patrol_id, "state": "open",
        "created_by": actor, "idempotency_key": idempotency_key, "fingerprint": fingerprint,
        "created_at": now,
    }  # fmt: skip
    stmt = pg_insert(risks).values(**values).on_conflict_do_nothing().returning(*risks.c)
    row = (await conn.execute(stmt)).first()
    if row is not None:
        return risk_read(row), True
    first = (
        await conn.execute(
            select(risks).where(
                risks.c.created_by == actor, risks.c.idempotency_key == idempotency_key
            )
        )
    ).one()
    if first.fingerprint != fingerprint:
        raise Conflict("Idempotency-Key 已用于另一条隐患 (key used for another risk)")
    return risk_read(first), False


def risk_read(row: Row[Any]) -> RiskRead:
    return RiskRead(
        risk_id=row.risk_id, path=row.path, location=row.location, address=row.address,
        category=row.category, description=row.description, seen_by=row.seen_by,
        seen_on=row.seen_on, follow_up_on=row.follow_up_on, campaign_id=row.campaign_id,
        patrol_id=row.patrol_id, state=row.state, state_label=STATE_LABELS[row.state],
        outcome=row.outcome, case_id=row.case_id, created_at=row.created_at,
        closed_at=row.closed_at,
    )  # fmt: skip


async def locked(conn: AsyncConnection, risk_id: UUID, where: Area) -> Row[Any]:
    """The risk, locked; 404 when unknown or outside the key's area (the same answer)."""
    row = (
        await conn.execute(select(risks).where(risks.c.risk_id == risk_id).with_for_update())
    ).first()
    if row is None or not where.covers(row.path):
        raise NotFound("隐患不存在 (risk not found)")
    return row


def refuse_unless_open(row: Row[Any]) -> None:
    if row.state != "open":
        raise Conflict(
            f"隐患已{STATE_LABELS[row.state]}，不能再处理 (risk is {row.state}, not open)"
        )


async def close(
    conn: AsyncConnection, row: Row[Any], *, state: str, now: datetime,
    outcome: str | None = None, case_id: UUID | None = None,
) -> RiskRead:  # fmt: skip
    done = await conn.execute(
        update(risks).where(risks.c.risk_id == row.risk_id)
        .values(state=state, outcome=outcome, case_id=case_id, closed_at=now)
        .returning(*risks.c)
    )  # fmt: skip
    return risk_read(done.one())


def case_of(row: Row[Any], body: RiskToCase) -> CaseCreate:
    """The submission a risk becomes (its category may be left to triage when neither the
    risk nor the request names one)."""
    text = str(row.description)
    title = body.title or f"隐患转诉求：{text[:40]}"
    return CaseCreate(
        external_id=f"risk-{row.risk_id}", category=body.category or row.category, title=title,
        description=text, location=row.location, address=row.address, urgency=body.urgency,
        received_by=row.seen_by, campaign_id=row.campaign_id,
    )  # fmt: skip


async def list_risks(
    conn: AsyncConnection, where: Area, *, state: str | None, due_by: date | None, limit: int
) -> list[RiskRead]:
    stmt = select(risks).where(in_area(risks.c.path, where))
    if state is not None:
        stmt = stmt.where(risks.c.state == state)
    if due_by is not None:
        stmt = stmt.where(risks.c.state == "open", risks.c.follow_up_on <= due_by)
    stmt = stmt.order_by(risks.c.follow_up_on, risks.c.created_at).limit(limit)
    return [risk_read(r) for r in (await conn.execute(stmt)).all()]
