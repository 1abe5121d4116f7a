"""办结: the owner reports the result, with any evidence (办结凭证、书面承诺). The case is
resolved only when the lead has resolved and every co-handler has reported; then it waits
for the petitioner's rating."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Row

from services.router.actions.attaching import attach, linked
from services.router.actions.common import ActionContext, lock_dispatch
from shared.contracts.events import DispatchResolved
from shared.domain.case import Case, Outcome
from shared.domain.lifecycle import DispatchState, resolution_context

OUTCOME_CN = {"resolved": "已解决", "explained": "解释结案", "referred": "转诉讼/仲裁/应急"}


async def resolve(
    ctx: ActionContext,
    dispatch_id: UUID,
    *,
    outcome: Outcome,
    summary: str,
    attachments: list[str] | None = None,
) -> Row[Any]:
    dispatch, case = await lock_dispatch(ctx, dispatch_id)
    files = await attach(ctx, dispatch.case_id, dispatch_id, attachments or [], "evidence")
    dispatch.resolve(
        outcome, ctx.now, actor=ctx.key.actor, reason=f"{OUTCOME_CN[outcome]}：{summary}",
        detail={"outcome": outcome, **linked(files)},
    )  # fmt: skip
    dispatch.emit(
        DispatchResolved(
            case_id=dispatch.case_id,
            dispatch_id=dispatch_id,
            owner_id=dispatch.owner_id,
            role=dispatch.role_name,
            outcome=outcome,
            summary=summary,
            attachments=files,
        )
    )
    await _resolve_case_when_ready(ctx, case, outcome, summary)
    return await ctx.dispatches.row(dispatch)


async def _resolve_case_when_ready(
    ctx: ActionContext, case: Case, outcome: Outcome, summary: str
) -> None:
    if not case.in_hand:
        return
    ds = await ctx.dispatches.of_case(case.case_id)
    pairs = [(d.role, d.state) for d in ds]
    if not all(resolution_context(pairs).values()):
        return
    lead = next(d for d in ds if d.role == "lead" and d.state is DispatchState.RESOLVED)
    case.resolve(
        pairs, ctx.now, actor=ctx.key.actor, outcome=outcome, summary=summary,
        lead_owner_id=lead.owner_id, reason=f"主办单位办结：{OUTCOME_CN[outcome]}",
    )  # fmt: skip
