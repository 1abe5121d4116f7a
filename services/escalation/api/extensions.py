"""延期: the requests waiting for a decision, and the decision.

``GET /v1/extensions``: the requests a supervisor may decide (those of owners below its
office), oldest first, pending by default; ops and admin see all. Until this list nobody
was told a request exists but by the notifier's message.
``POST /v1/extensions/{dispatch_id}/decide`` by a supervisor of the owner.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from services.escalation.extensions import ExtensionDecision, decide_extension
from services.escalation.tables import extensions, outbox
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.contracts.envelope import make_envelope
from shared.contracts.events import ExtensionDecided
from shared.db.outbox import write_events
from shared.web.problems import BODY, KEYED, Problem

router = APIRouter(prefix="/v1/extensions", tags=["extensions"], responses=KEYED | BODY)
SupervisorKey = Annotated[ApiKey, require(Role.SUPERVISOR)]
ReaderKey = Annotated[ApiKey, require(Role.SUPERVISOR, Role.OPS)]
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {
        "model": Problem,
        "description": "没有待审批的延期申请，或不是该单位的上级 (none you may decide)",
    },
}


@router.post(
    "/{dispatch_id}/decide",
    response_model=ExtensionDecided,
    summary="延期审批 (decide an extension)",
    responses=REFUSALS,
)
async def decide(
    dispatch_id: UUID, body: ExtensionDecision, key: SupervisorKey, request: Request
) -> ExtensionDecided:
    runtime = request.app.state.runtime
    now = runtime.clock.now()
    async with runtime.engine.begin() as conn:
        decided = await decide_extension(conn, key, dispatch_id, body, now, runtime.deps)
        envelope = make_envelope(
            decided, producer="escalation", occurred_at=now, case_id=decided.case_id
        )
        await write_events(conn, outbox, [envelope])
    runtime.poke_relay()
    return decided


class ExtensionRead(BaseModel):
    extension_id: UUID
    case_id: UUID
    dispatch_id: UUID
    owner_id: str
    working_days: int
    reason: str
    resolve_due_at: datetime
    state: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    new_resolve_due_at: datetime | None


@router.get("", response_model=list[ExtensionRead], summary="延期申请 (extension requests)")
async def list_extensions(
    key: ReaderKey,
    request: Request,
    state: Annotated[str, Query(pattern="^(pending|approved|refused)$")] = "pending",
    case_id: Annotated[UUID | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ExtensionRead]:
    """Oldest first; a supervisor sees the requests it may decide (owners below it)."""
    stmt = (
        select(extensions)
        .where(extensions.c.state == state)
        .order_by(extensions.c.requested_at)
        .limit(limit)
    )
    if case_id is not None:
        stmt = stmt.where(extensions.c.case_id == case_id)
    if key.role is Role.SUPERVISOR:
        owners = request.app.state.runtime.deps.owners
        below = [
            o.id for o in owners.all() if key.owner_id in {x.id for x in owners.chain(o.id)[1:]}
        ]
        stmt = stmt.where(extensions.c.owner_id.in_(below))
    async with request.app.state.runtime.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [ExtensionRead.model_validate(r._mapping) for r in rows]
