"""办结: the owner reports the result, with any evidence (办结凭证、书面承诺). The case is
resolved only when the lead has resolved and every co-handler has reported; then it waits
for the petitioner's rating."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from sqlalchemy import Row

from services.router.actions.attaching import attach, linked
from services.router.actions.common import (
    ActionContext,
    case_dispatches,
    lock_dispatch,
    move_case,
    move_dispatch,
)
from shared.contracts.events import CaseResolved, DispatchResolved
from shared.domain.lifecycle import CaseState, DispatchState, resolution_context

Outcome = Literal["resolved", "explained", "referred"]
OUTCOME_CN = {"resolved": "已解决", "explained": "解释结案", "referred": "转诉讼/仲裁/应急"}


async def resolve(
    ctx: ActionContext,
    dispatch_id: UUID,
    *,
    outcome: Outcome,
    summary: str,
    attachments: list[str] | None = None,
) -> Row[Any]:
    row, case = await lock_dispatch(ctx, dispatch_id)
    files = await attach(ctx, row, attachments or [], "evidence")
    updated = await move_dispatch(
        ctx,
        row,
        "resolve",
        action="resolved",
        reason=f"{OUTCOME_CN[outcome]}：{summary}",
        values={"resolved_at": ctx.now, "acknowledged_at": row.acknowledged_at or ctx.now},
        detail={"outcome": outcome, **linked(files)},
    )
    ctx.emit(
        DispatchResolved(
            case_id=row.case_id,
            dispatch_id=dispatch_id,
            owner_id=row.owner_id,
            role=row.role,
            outcome=outcome,
            summary=summary,
            attachments=files,
        ),
        row.case_id,
    )
    await _resolve_case_when_ready(ctx, case, row, outcome, summary)
    return updated


async def _resolve_case_when_ready(
    ctx: ActionContext, case: Row[Any], row: Row[Any], outcome: Outcome, summary: str
) -> None:
    if case.state not in (CaseState.DISPATCHED.value, CaseState.IN_PROGRESS.value):
        return
    ds = await case_dispatches(ctx, case.case_id)
    facts = resolution_context((d.role, d.state) for d in ds)
    if not all(facts.values()):
        return
    lead = next(d for d in ds if d.role == "lead" and d.state == DispatchState.RESOLVED.value)
    state = await move_case(
        ctx,
        case,
        "resolve",
        reason=f"主办单位办结：{OUTCOME_CN[outcome]}",
        lead_resolved=facts["lead_resolved"],
        co_handlers_reported=facts["co_handlers_reported"],
    )
    ctx.emit(
        CaseResolved(
            case_id=case.case_id,
            outcome=outcome,
            summary=summary,
            lead_owner_id=lead.owner_id,
            key_person=bool(case.key_person),
        ),
        case.case_id,
    )
    await move_case(
        ctx,
        case,
        "request_feedback",
        actor="router",
        reason="待回访：请诉求人评价办理结果",
        from_state=state.value,
    )
