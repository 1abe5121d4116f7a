"""延期 decisions: a supervisor of the dispatch's owner approves or refuses its pending request.

Approved, the resolve clock moves by the working days granted (counted on the calendar from
the due time in force), its reminder is planned again and any ladder it had started stops;
refused, the clock runs on. Either way ``dispatch.extension_decided`` is staged, so the
router can record the new date and the petitioner be told.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.escalation.deps import EscalationDeps
from services.escalation.ladder import remind_at
from services.escalation.tables import deadlines, extensions
from shared.auth.keys import ApiKey, Role
from shared.contracts.events import ExtensionDecided
from shared.domain.display import beijing
from shared.domain.errors import NotFound

NO_PENDING = "该派单没有待审批的延期申请 (no pending extension)"


class ExtensionDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    working_days: int | None = Field(default=None, ge=1, le=60)  # default: as requested


async def decide_extension(
    conn: AsyncConnection,
    key: ApiKey,
    dispatch_id: UUID,
    decision: ExtensionDecision,
    now: datetime,
    deps: EscalationDeps,
) -> ExtensionDecided:
    ext = (
        await conn.execute(
            select(extensions)
            .where(extensions.c.dispatch_id == dispatch_id, extensions.c.state == "pending")
            .order_by(extensions.c.requested_at.desc())
            .limit(1)
            .with_for_update()
        )
    ).first()
    above = [] if ext is None else [o.id for o in deps.owners.chain(ext.owner_id)[1:]]
    if ext is None or (key.role is not Role.ADMIN and key.owner_id not in above):
        # another office's request is none of the caller's business: the same 404 as none
        raise NotFound(NO_PENDING)
    clock = (
        await conn.execute(
            select(deadlines)
            .where(deadlines.c.dispatch_id == dispatch_id, deadlines.c.kind == "resolve")
            .with_for_update()
        )
    ).first()
    due = clock.due_at if clock is not None else ext.resolve_due_at
    days = decision.working_days or ext.working_days
    if decision.approve:
        due = deps.calendar.add_working_days(due, days)
        if clock is not None and clock.state != "disarmed":
            await _move_resolve_clock(conn, clock, due, now)
    await conn.execute(
        update(extensions)
        .where(extensions.c.extension_id == ext.extension_id)
        .values(
            state="approved" if decision.approve else "refused",
            decided_by=key.actor,
            decided_at=now,
            new_resolve_due_at=due if decision.approve else None,
        )
    )
    verdict = (
        f"同意延期 {days} 个工作日，新办结时限 {beijing(due)}"
        if decision.approve
        else "不同意延期，原时限不变"
    )
    return ExtensionDecided(
        case_id=ext.case_id,
        dispatch_id=dispatch_id,
        owner_id=ext.owner_id,
        approved=decision.approve,
        working_days=days if decision.approve else 0,
        resolve_due_at=due,
        decided_by=key.actor,
        reason=verdict,
    )


async def _move_resolve_clock(
    conn: AsyncConnection, clock: Row[Any], due: datetime, now: datetime
) -> None:
    remind = remind_at(now, due, (clock.policy or {}).get("reminder_share", 0.75))
    moved = {"due_at": due, "remind_at": remind, "reminded_at": None, "next_at": remind or due}
    await conn.execute(
        update(deadlines)
        .where(deadlines.c.deadline_id == clock.deadline_id)
        .values(
            **moved,
            state="armed",
            fired_at=None,
            updated_at=now,
            version=deadlines.c.version + 1,
        )
    )
    await conn.execute(
        update(deadlines)
        .where(
            deadlines.c.dispatch_id == clock.dispatch_id,
            deadlines.c.kind == "escalate.resolve",
            deadlines.c.state == "armed",
        )
        .values(state="disarmed", updated_at=now, version=deadlines.c.version + 1)
    )
