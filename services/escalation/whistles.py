"""The whistle protocol's write side: report-in (报到) and lead designation.

Each function runs in the caller's transaction, locks the whistle row first (one order for
every writer) and returns the events to stage. Scope: a department reports in only for
itself and only when convened; a supervisor decides only a whistle blown by its own office
or one below it (``ladder.may_decide``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.escalation.ladder import may_decide
from services.escalation.tables import deadlines, whistle_members, whistles
from shared.auth.keys import ApiKey, Role
from shared.contracts.events import WhistleLeadDesignated
from shared.domain.errors import Conflict, DomainError, NotFound
from shared.domain.owners import OwnerDirectory
from shared.web.fields import OWNER_ID

NO_WHISTLE = "哨令不存在 (whistle not found)"


class NotAllowed(DomainError):
    """The key may see the whistle but not do this (answered 403); it names nobody."""


OwnerId = Annotated[str, Field(max_length=64, pattern=OWNER_ID)]


class LeadDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_owner_id: OwnerId
    co_handler_ids: list[OwnerId] = Field(default_factory=list, max_length=12)


async def lock_whistle(conn: AsyncConnection, whistle_id: UUID) -> Row[Any]:
    row = (
        await conn.execute(
            select(whistles).where(whistles.c.whistle_id == whistle_id).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound(NO_WHISTLE)
    return row


async def report_in(conn: AsyncConnection, key: ApiKey, whistle_id: UUID, now: datetime) -> None:
    await lock_whistle(conn, whistle_id)
    if key.owner_id is None:  # an admin key acts for no department
        raise NotAllowed(
            "报到须使用被召集单位的密钥 (report in with the convened department's key)"
        )
    member = (
        await conn.execute(
            select(whistle_members).where(
                whistle_members.c.whistle_id == whistle_id,
                whistle_members.c.owner_id == key.owner_id,
            )
        )
    ).first()
    if member is None:
        raise NotFound(NO_WHISTLE)  # not convened: the whistle is none of its business
    if member.state == "reported":
        return
    await conn.execute(
        update(whistle_members)
        .where(
            whistle_members.c.whistle_id == whistle_id,
            whistle_members.c.owner_id == key.owner_id,
        )
        .values(state="reported", reported_at=now, reported_by=key.actor)
    )
    await _disarm_report_in(conn, whistle_id, now, owner_id=key.owner_id)


async def designate_lead(
    conn: AsyncConnection,
    key: ApiKey,
    whistle_id: UUID,
    decision: LeadDecision,
    now: datetime,
    owners: OwnerDirectory,
) -> WhistleLeadDesignated:
    row = await lock_whistle(conn, whistle_id)
    if key.role is not Role.ADMIN and not may_decide(owners, key.owner_id, row.blown_by):
        raise NotFound(NO_WHISTLE)  # another area's whistle: the same 404 as none
    if row.state != "open":
        raise Conflict(f"哨令已决定，主办为 {row.lead_owner_id} (already decided)")
    co = [o for o in dict.fromkeys(decision.co_handler_ids) if o != decision.lead_owner_id]
    unknown = [o for o in [decision.lead_owner_id, *co] if owners.get(o) is None]
    if unknown:
        raise Conflict(f"名录中无此单位 (unknown owner): {', '.join(unknown)}")
    await conn.execute(
        update(whistles)
        .where(whistles.c.whistle_id == whistle_id)
        .values(
            state="decided",
            lead_owner_id=decision.lead_owner_id,
            co_handler_ids=co,
            decided_by=key.actor,
            decided_at=now,
        )
    )
    await _disarm_report_in(conn, whistle_id, now)
    return WhistleLeadDesignated(
        whistle_id=whistle_id,
        case_id=row.case_id,
        lead_owner_id=decision.lead_owner_id,
        co_handler_ids=co,
        designated_by=key.actor,
        designated_by_owner=key.owner_id if key.role is Role.SUPERVISOR else row.blown_by,
    )


async def _disarm_report_in(
    conn: AsyncConnection, whistle_id: UUID, now: datetime, *, owner_id: str | None = None
) -> None:
    stmt = update(deadlines).where(
        deadlines.c.whistle_id == whistle_id,
        deadlines.c.kind == "report_in",
        deadlines.c.state == "armed",
    )
    if owner_id is not None:
        stmt = stmt.where(deadlines.c.owner_id == owner_id)
    await conn.execute(
        stmt.values(state="disarmed", updated_at=now, version=deadlines.c.version + 1)
    )
