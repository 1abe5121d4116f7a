"""延期 decisions: ``POST /v1/extensions/{dispatch_id}/decide`` by a supervisor of the owner."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request

from services.escalation.extensions import ExtensionDecision, decide_extension
from services.escalation.tables import outbox
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.contracts.envelope import make_envelope
from shared.contracts.events import ExtensionDecided
from shared.db.outbox import write_events
from shared.web.problems import BODY, KEYED, Problem

router = APIRouter(prefix="/v1/extensions", tags=["extensions"], responses=KEYED | BODY)
SupervisorKey = Annotated[ApiKey, require(Role.SUPERVISOR)]
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
