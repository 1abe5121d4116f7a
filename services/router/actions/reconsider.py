"""申请复核: a lead designated by a superior after a whistle cannot return the case (退单);
it asks the designating office to reconsider, with a reason, and that office decides.

The request is kept on the dispatch (``policy.reconsideration``, one open at a time) with a
``reconsideration_requested`` timeline row. The designating office (or an office above it)
decides: to uphold (the lead stays; ``reconsideration_decided``), or to name another lead,
which redispatches the case (:mod:`services.router.redispatch`: the old lead dispatch is
cancelled, the co-handlers kept) with the new lead designated by the same office.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Row, select, update

from services.router.actions.common import ActionContext, lock_dispatch, lock_dispatch_and_case
from services.router.redispatch import plan_decision, redispatch
from services.router.tables import dispatches
from shared.auth.keys import Role
from shared.domain.case import Case
from shared.domain.dispatch import Dispatch
from shared.domain.errors import Conflict, InvalidTransition, NotFound
from shared.domain.lifecycle import DispatchRole

PENDING = "pending"


def _request(dispatch: Dispatch) -> dict[str, Any]:
    return dict(dispatch.policy.get("reconsideration") or {})


async def request_reconsideration(
    ctx: ActionContext, dispatch_id: UUID, *, reason: str
) -> Row[Any]:
    dispatch, _case = await lock_dispatch(ctx, dispatch_id)
    office = dispatch.designated_by
    if _request(dispatch).get("state") == PENDING:
        raise InvalidTransition(
            dispatch.state.value, "request_reconsideration",
            f"已有待决定的复核申请，请等待「{office}」决定 (a request is already pending)",
        )  # fmt: skip
    asked = {"state": PENDING, "reason": reason, "requested_at": ctx.now.isoformat()}
    name = ctx.deps.owners.name_of(dispatch.owner_id)
    dispatch.request_reconsideration(
        asked, ctx.now, actor=ctx.key.actor,
        reason=f"{name} 申请复核（由指定单位 {office} 决定）：{reason}",
    )  # fmt: skip
    return await ctx.dispatches.row(dispatch)


async def decide_reconsideration(
    ctx: ActionContext,
    dispatch_id: UUID,
    *,
    uphold: bool,
    reason: str,
    lead_owner_id: str | None,
) -> Row[Any]:
    dispatch, case = await _lock_for_office(ctx, dispatch_id)
    asked = _request(dispatch)
    if asked.get("state") != PENDING:
        raise Conflict("该派单没有待决定的复核申请 (no pending reconsideration)")
    outcome = "upheld" if uphold else "reassigned"
    dispatch.policy = dispatch.policy | {"reconsideration": asked | {"state": outcome}}
    await ctx.conn.execute(  # the decision is no move of the dispatch: no new version
        update(dispatches)
        .where(dispatches.c.dispatch_id == dispatch_id)
        .values(policy=dispatch.policy)
    )
    verdict = (
        f"维持指定，主办仍为 {dispatch.owner_id}：{reason}"
        if uphold
        else f"复核后改由 {lead_owner_id} 主办：{reason}"
    )
    dispatch.note(ctx.now, actor=ctx.key.actor, action="reconsideration_decided",
                  reason=verdict, detail={"outcome": outcome})  # fmt: skip
    if not uphold:
        await _reassign(ctx, case, dispatch, lead_owner_id)
    await ctx.write()
    return (
        await ctx.conn.execute(select(dispatches).where(dispatches.c.dispatch_id == dispatch_id))
    ).one()


async def _reassign(ctx: ActionContext, case: Case, dispatch: Dispatch, lead: str | None) -> None:
    if lead is None or ctx.deps.owners.get(lead) is None:
        raise Conflict(f"改派须指定名录中的主办单位 (unknown or missing lead_owner_id): {lead}")
    open_co = [
        d.owner_id
        for d in await ctx.dispatches.of_case(case.case_id, open_only=True)
        if d.role is DispatchRole.CO_HANDLER and d.owner_id != lead
    ]
    decision = plan_decision(ctx, case, lead, list(dict.fromkeys(open_co)))
    office = dispatch.designated_by
    await redispatch(ctx, case, decision, designated_by=office, reason="复核后改派主办单位")


async def _lock_for_office(ctx: ActionContext, dispatch_id: UUID) -> tuple[Dispatch, Case]:
    """The dispatch and its case, locked; 404 unless the key's office designated its lead
    (or stands above that office)."""
    dispatch, case = await lock_dispatch_and_case(ctx, dispatch_id)
    office = dispatch.designated_by
    above = [o.id for o in ctx.deps.owners.chain(office)] if office else []
    if ctx.key.role is not Role.ADMIN and ctx.key.owner_id not in above:
        raise NotFound("派单不存在，或不是本单位指定的主办 (not designated by your office)")
    return dispatch, case
