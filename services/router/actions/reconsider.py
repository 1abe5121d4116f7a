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

from services.router import timeline
from services.router.actions.common import (
    ActionContext,
    lock_dispatch,
    lock_dispatch_and_case,
    move_dispatch,
)
from services.router.redispatch import plan_decision, redispatch
from services.router.tables import dispatches
from shared.auth.keys import Role
from shared.domain.errors import Conflict, InvalidTransition, NotFound
from shared.domain.lifecycle import OPEN_DISPATCH_STATES

PENDING = "pending"


def _request(row: Row[Any]) -> dict[str, Any]:
    return dict((row.policy or {}).get("reconsideration") or {})


async def request_reconsideration(
    ctx: ActionContext, dispatch_id: UUID, *, reason: str
) -> Row[Any]:
    row, _case = await lock_dispatch(ctx, dispatch_id)
    policy = dict(row.policy or {})
    office = policy.get("designated_by")
    if _request(row).get("state") == PENDING:
        raise InvalidTransition(
            row.state, "request_reconsideration",
            f"已有待决定的复核申请，请等待「{office}」决定 (a request is already pending)",
        )  # fmt: skip
    asked = {"state": PENDING, "reason": reason, "requested_at": ctx.now.isoformat()}
    return await move_dispatch(
        ctx, row, "request_reconsideration", action="reconsideration_requested",
        reason=f"{ctx.deps.owners.name_of(row.owner_id)} 申请复核（由指定单位 {office} 决定）：{reason}",
        values={"policy": policy | {"reconsideration": asked}},
        detail={"designated_by": office}, designated_lead=office is not None,
    )  # fmt: skip


async def decide_reconsideration(
    ctx: ActionContext,
    dispatch_id: UUID,
    *,
    uphold: bool,
    reason: str,
    lead_owner_id: str | None,
) -> Row[Any]:
    row, case = await _lock_for_office(ctx, dispatch_id)
    asked = _request(row)
    if asked.get("state") != PENDING:
        raise Conflict("该派单没有待决定的复核申请 (no pending reconsideration)")
    outcome = "upheld" if uphold else "reassigned"
    policy = dict(row.policy or {}) | {"reconsideration": asked | {"state": outcome}}
    await ctx.conn.execute(
        update(dispatches).where(dispatches.c.dispatch_id == dispatch_id).values(policy=policy)
    )
    verdict = (
        f"维持指定，主办仍为 {row.owner_id}：{reason}"
        if uphold
        else f"复核后改由 {lead_owner_id} 主办：{reason}"
    )
    await timeline.record(
        ctx, case_id=row.case_id, dispatch_id=dispatch_id, at=ctx.now, actor=ctx.key.actor,
        action="reconsideration_decided", from_state=row.state, to_state=row.state,
        reason=verdict, rule_version=row.ruleset_version, detail={"outcome": outcome},
    )  # fmt: skip
    if not uphold:
        await _reassign(ctx, case, row, lead_owner_id)
    return (
        await ctx.conn.execute(select(dispatches).where(dispatches.c.dispatch_id == dispatch_id))
    ).one()


async def _reassign(ctx: ActionContext, case: Row[Any], row: Row[Any], lead: str | None) -> None:
    if lead is None or ctx.deps.owners.get(lead) is None:
        raise Conflict(f"改派须指定名录中的主办单位 (unknown or missing lead_owner_id): {lead}")
    open_co = select(dispatches.c.owner_id).where(
        dispatches.c.case_id == case.case_id,
        dispatches.c.role == "co_handler",
        dispatches.c.state.in_([s.value for s in OPEN_DISPATCH_STATES]),
    )
    co = [o for o in (await ctx.conn.scalars(open_co)).all() if o != lead]
    decision = plan_decision(ctx, case, lead, list(dict.fromkeys(co)))
    office = (row.policy or {}).get("designated_by")
    await redispatch(ctx, case, decision, designated_by=office, reason="复核后改派主办单位")


async def _lock_for_office(ctx: ActionContext, dispatch_id: UUID) -> tuple[Row[Any], Row[Any]]:
    """The dispatch and its case, locked; 404 unless the key's office designated its lead
    (or stands above that office)."""
    row, case = await lock_dispatch_and_case(ctx, dispatch_id)
    office = (row.policy or {}).get("designated_by")
    above = [o.id for o in ctx.deps.owners.chain(office)] if office else []
    if ctx.key.role is not Role.ADMIN and ctx.key.owner_id not in above:
        raise NotFound("派单不存在，或不是本单位指定的主办 (not designated by your office)")
    return row, case
