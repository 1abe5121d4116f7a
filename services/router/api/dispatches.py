"""The department API: a department sees and acts on its own dispatches only (404 for
anyone else's). Every action answers the dispatch as it now stands; a refused action
answers 409 with the current state and the reason. With an ``Idempotency-Key`` header a
retried action answers the first result and changes nothing, also when the retries arrive
at once: they queue on a transaction lock of (key, Idempotency-Key), so only the first
acts and every later one reads its stored answer. The same key for another dispatch or
action is 409; with another body, 422. A refused action stores nothing (a retry tries
again and is refused or applied on the state it then finds)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import Row, insert, select, text

from services.router.actions.acknowledge import acknowledge
from services.router.actions.common import ActionContext
from services.router.actions.extension import request_extension
from services.router.actions.progress import report_progress
from services.router.actions.reconsider import decide_reconsideration, request_reconsideration
from services.router.actions.resolve import resolve
from services.router.actions.returning import return_dispatch
from services.router.schemas import (
    DispatchRead,
    ExtensionIn,
    ProgressIn,
    ReconsiderDecisionIn,
    ReconsiderIn,
    ResolveIn,
    ReturnIn,
)
from services.router.tables import action_requests, dispatches
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.domain.errors import Conflict
from shared.domain.lifecycle import DispatchState
from shared.web.problems import BODY, KEYED, Problem

router = APIRouter(prefix="/v1/dispatches", tags=["dispatches"], responses=KEYED | BODY)
DepartmentKey = Annotated[ApiKey, require(Role.DEPARTMENT)]
SupervisorKey = Annotated[ApiKey, require(Role.SUPERVISOR)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "不是本单位的派单 (not yours)"},
    409: {"model": Problem, "description": "当前状态不允许此操作 (state does not allow it)"},
}
_HOLD = text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))")


@router.get("", response_model=list[DispatchRead], summary="本单位的派单 (own dispatches)")
async def list_dispatches(
    key: DepartmentKey,
    request: Request,
    status: Annotated[DispatchState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DispatchRead]:
    stmt = select(dispatches).order_by(dispatches.c.created_at.desc()).limit(limit)
    if key.role is not Role.ADMIN:
        stmt = stmt.where(dispatches.c.owner_id == key.owner_id)
    if status is not None:
        stmt = stmt.where(dispatches.c.state == status.value)
    async with request.app.state.runtime.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [DispatchRead.model_validate(r._mapping) for r in rows]


@router.post(
    "/{dispatch_id}/acknowledge", response_model=DispatchRead, summary="签收", responses=REFUSALS
)
async def acknowledge_dispatch(
    dispatch_id: UUID, key: DepartmentKey, request: Request, idem: IdemKey = None
) -> DispatchRead:
    return await _act(
        request, key, dispatch_id, "acknowledge", idem, lambda c: acknowledge(c, dispatch_id), None
    )


@router.post(
    "/{dispatch_id}/return", response_model=DispatchRead, summary="退单", responses=REFUSALS
)
async def return_(
    dispatch_id: UUID, body: ReturnIn, key: DepartmentKey, request: Request, idem: IdemKey = None
) -> DispatchRead:
    named = body.suggested_category
    if named is not None and named not in request.app.state.runtime.deps.rules.categories:
        raise HTTPException(422, f"类别「{named}」不在分类表中 (unknown suggested_category)")
    return await _act(
        request, key, dispatch_id, "return", idem,
        lambda c: return_dispatch(c, dispatch_id, reason_code=body.reason_code, note=body.note,
                                  suggested_category=body.suggested_category),
        body,
    )  # fmt: skip


@router.post(
    "/{dispatch_id}/progress", response_model=DispatchRead, summary="报告进展", responses=REFUSALS
)
async def progress(
    dispatch_id: UUID, body: ProgressIn, key: DepartmentKey, request: Request, idem: IdemKey = None
) -> DispatchRead:
    return await _act(
        request, key, dispatch_id, "progress", idem,
        lambda c: report_progress(c, dispatch_id, note=body.note, minutes_spent=body.minutes_spent,
                                  attachments=body.attachments),
        body,
    )  # fmt: skip


@router.post(
    "/{dispatch_id}/extension", response_model=DispatchRead, summary="申请延期", responses=REFUSALS
)
async def extension(
    dispatch_id: UUID, body: ExtensionIn, key: DepartmentKey, request: Request, idem: IdemKey = None
) -> DispatchRead:
    return await _act(
        request, key, dispatch_id, "extension", idem,
        lambda c: request_extension(c, dispatch_id, working_days=body.working_days, reason=body.reason),
        body,
    )  # fmt: skip


@router.post(
    "/{dispatch_id}/resolve", response_model=DispatchRead, summary="办结", responses=REFUSALS
)
async def resolve_(
    dispatch_id: UUID, body: ResolveIn, key: DepartmentKey, request: Request, idem: IdemKey = None
) -> DispatchRead:
    return await _act(
        request, key, dispatch_id, "resolve", idem,
        lambda c: resolve(c, dispatch_id, outcome=body.outcome, summary=body.summary,
                          attachments=body.attachments),
        body,
    )  # fmt: skip


@router.post(
    "/{dispatch_id}/reconsideration",
    response_model=DispatchRead,
    summary="申请复核 (designated lead asks the designating office)",
    responses=REFUSALS,
)
async def reconsideration(
    dispatch_id: UUID,
    body: ReconsiderIn,
    key: DepartmentKey,
    request: Request,
    idem: IdemKey = None,
) -> DispatchRead:
    return await _act(
        request, key, dispatch_id, "reconsideration", idem,
        lambda c: request_reconsideration(c, dispatch_id, reason=body.reason),
        body,
    )  # fmt: skip


@router.post(
    "/{dispatch_id}/reconsideration/decision",
    response_model=DispatchRead,
    summary="复核决定 (the designating office upholds or names another lead)",
    responses=REFUSALS,
)
async def reconsideration_decision(
    dispatch_id: UUID, body: ReconsiderDecisionIn, key: SupervisorKey, request: Request
) -> DispatchRead:
    return await _act(
        request, key, dispatch_id, "reconsideration_decision", None,
        lambda c: decide_reconsideration(
            c, dispatch_id, uphold=body.uphold, reason=body.reason, lead_owner_id=body.lead_owner_id
        ),
        body,
    )  # fmt: skip


async def _act(
    request: Request,
    key: ApiKey,
    dispatch_id: UUID,
    action: str,
    idem: str | None,
    run: Callable[[ActionContext], Awaitable[Row[Any]]],
    body: BaseModel | None,
) -> DispatchRead:
    """One transaction: replay check, the action, its events, the stored answer."""
    runtime = request.app.state.runtime
    asked = hashlib.sha256(body.model_dump_json().encode() if body else b"").hexdigest()
    async with runtime.engine.begin() as conn:
        if idem:
            await conn.execute(_HOLD, {"k": f"router.action:{key.id}:{idem}"})
            if (prior := await _prior(conn, key, idem, dispatch_id, action, asked)) is not None:
                return prior
        ctx = ActionContext(conn=conn, key=key, now=runtime.clock.now(), deps=runtime.deps)
        result = DispatchRead.model_validate((await run(ctx))._mapping)
        await ctx.flush()
        if idem:
            await conn.execute(
                insert(action_requests).values(
                    key_id=key.id,
                    idempotency_key=idem,
                    dispatch_id=dispatch_id,
                    action=action,
                    response=result.model_dump(mode="json"),
                    request_hash=asked,
                )
            )
    if ctx.events:
        runtime.poke_relay()
    return result


async def _prior(
    conn: Any, key: ApiKey, idem: str, dispatch_id: UUID, action: str, asked: str
) -> DispatchRead | None:
    """The stored answer of this key's earlier request, or None (the caller holds the lock)."""
    row = (
        await conn.execute(
            select(action_requests).where(
                action_requests.c.key_id == key.id, action_requests.c.idempotency_key == idem
            )
        )
    ).first()
    if row is None:
        return None
    if row.dispatch_id != dispatch_id or row.action != action:
        raise Conflict("该 Idempotency-Key 已用于另一项操作 (key reused for another action)")
    if row.request_hash is not None and row.request_hash != asked:
        raise HTTPException(
            422, "该 Idempotency-Key 已用于内容不同的请求 (key reused with a different body)"
        )
    return DispatchRead.model_validate(row.response)
