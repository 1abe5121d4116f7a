"""What every department action shares: loading under lock, moving state, recording it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import Row, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.router import timeline
from services.router.deps import RouterDeps
from services.router.tables import cases, dispatches, outbox
from shared.auth.keys import ApiKey, Role
from shared.contracts.envelope import Envelope, make_envelope
from shared.db.batch import Deferred, flush_deferred
from shared.db.outbox import write_events
from shared.domain.errors import NotFound
from shared.domain.lifecycle import CaseState, DispatchState, fire_case, fire_dispatch


@dataclass
class ActionContext:
    """One action's transaction: who acts, when, and the events it will stage."""

    conn: AsyncConnection
    key: ApiKey
    now: datetime
    deps: RouterDeps
    events: list[Envelope] = field(default_factory=list)
    deferred: Deferred = field(default_factory=Deferred)

    def emit(self, payload: BaseModel, case_id: UUID) -> None:
        self.events.append(
            make_envelope(payload, producer="router", occurred_at=self.now, case_id=case_id)
        )

    def defer(self, table: Table, values: dict[str, Any]) -> None:
        self.deferred.add(table, values)

    async def flush(self) -> None:
        await flush_deferred(self.conn, self.deferred)
        await write_events(self.conn, outbox, self.events)


async def lock_dispatch_and_case(
    ctx: ActionContext, dispatch_id: UUID
) -> tuple[Row[Any], Row[Any]]:
    """The dispatch and its case, both locked, case first (one order for every writer);
    404 when the dispatch does not exist. Whose it may be is the caller's check."""
    case_id = await ctx.conn.scalar(
        select(dispatches.c.case_id).where(dispatches.c.dispatch_id == dispatch_id)
    )
    if case_id is None:
        raise NotFound("派单不存在 (dispatch not found)")
    case = (
        await ctx.conn.execute(select(cases).where(cases.c.case_id == case_id).with_for_update())
    ).one()
    row = (
        await ctx.conn.execute(
            select(dispatches).where(dispatches.c.dispatch_id == dispatch_id).with_for_update()
        )
    ).one()
    return row, case


async def lock_dispatch(ctx: ActionContext, dispatch_id: UUID) -> tuple[Row[Any], Row[Any]]:
    """The dispatch and its case, both locked (case first: one order for every writer).

    404 when the dispatch is not the caller's: another owner's dispatch is never revealed.
    """
    row, case = await lock_dispatch_and_case(ctx, dispatch_id)
    if ctx.key.role is not Role.ADMIN and row.owner_id != ctx.key.owner_id:
        raise NotFound("派单不存在 (dispatch not found)")
    return row, case


async def move_dispatch(
    ctx: ActionContext,
    row: Row[Any],
    trigger: str,
    *,
    action: str,
    reason: str,
    values: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    **conditions: Any,
) -> Row[Any]:
    """Fire ``trigger`` on the dispatch, store the new state and a timeline row."""
    new_state = fire_dispatch(DispatchState(row.state), trigger, **conditions)
    updated = (
        await ctx.conn.execute(
            update(dispatches)
            .where(dispatches.c.dispatch_id == row.dispatch_id)
            .values(
                state=new_state.value,
                updated_at=ctx.now,
                version=dispatches.c.version + 1,
                **(values or {}),
            )
            .returning(*dispatches.c)
        )
    ).one()
    await timeline.record(
        ctx,
        case_id=row.case_id,
        dispatch_id=row.dispatch_id,
        at=ctx.now,
        actor=ctx.key.actor,
        action=action,
        from_state=row.state,
        to_state=new_state.value,
        reason=reason,
        rule_version=row.ruleset_version,
        detail=detail,
    )
    return updated


async def move_case(
    ctx: ActionContext,
    case: Row[Any],
    trigger: str,
    *,
    reason: str,
    actor: str | None = None,
    values: dict[str, Any] | None = None,
    from_state: str | None = None,
    **conditions: Any,
) -> CaseState:
    """Fire ``trigger`` on the case (in ``from_state`` when the row is already stale),
    store it and write the timeline row."""
    current = from_state or case.state
    new_state = fire_case(CaseState(current), trigger, **conditions)
    await ctx.conn.execute(
        update(cases)
        .where(cases.c.case_id == case.case_id)
        .values(
            state=new_state.value,
            updated_at=ctx.now,
            version=cases.c.version + 1,
            **(values or {}),
        )
    )
    await timeline.record(
        ctx,
        case_id=case.case_id,
        at=ctx.now,
        actor=actor or ctx.key.actor,
        action=trigger,
        from_state=current,
        to_state=new_state.value,
        reason=reason,
        rule_version=case.ruleset_version,
    )
    return new_state


async def case_dispatches(ctx: ActionContext, case_id: UUID) -> list[Row[Any]]:
    return list(
        (
            await ctx.conn.execute(
                select(dispatches)
                .where(dispatches.c.case_id == case_id)
                .order_by(dispatches.c.created_at)
            )
        ).all()
    )
