"""Department actions on a dispatch. Commands fail loudly: a refused action raises."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from shared.domain.lifecycle import DispatchState, fire_dispatch
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.router import timeline
from services.router.tables import dispatches, outbox
from shared.auth.keys import ApiKey, Role
from shared.contracts.envelope import make_envelope
from shared.contracts.events import DispatchAcknowledged
from shared.db.outbox import write_events
from shared.web.app import NotFound


async def load_for_update(conn: AsyncConnection, key: ApiKey, dispatch_id: UUID) -> Row[Any]:
    """The dispatch, locked; 404 when it is not the caller's (never reveal another owner's)."""
    row = (
        await conn.execute(
            select(dispatches).where(dispatches.c.dispatch_id == dispatch_id).with_for_update()
        )
    ).first()
    if row is None or (key.role is not Role.ADMIN and row.owner_id != key.owner_id):
        raise NotFound("派单不存在 (dispatch not found)")
    return row


async def acknowledge(
    conn: AsyncConnection, *, key: ApiKey, dispatch_id: UUID, now: datetime
) -> tuple[Row[Any], bool]:
    """签收. Acknowledging twice answers the same result; returns (row, changed)."""
    row = await load_for_update(conn, key, dispatch_id)
    if row.state == DispatchState.ACKNOWLEDGED.value:
        return row, False
    new_state = fire_dispatch(DispatchState(row.state), "acknowledge")
    updated = (
        await conn.execute(
            update(dispatches)
            .where(dispatches.c.dispatch_id == dispatch_id)
            .values(
                state=new_state.value,
                acknowledged_at=now,
                updated_at=now,
                version=dispatches.c.version + 1,
            )
            .returning(*dispatches.c)
        )
    ).one()
    await timeline.record(
        conn,
        case_id=row.case_id,
        dispatch_id=dispatch_id,
        at=now,
        actor=key.actor,
        action="acknowledged",
        from_state=row.state,
        to_state=new_state.value,
        reason=f"{row.owner_id} 已签收",
        rule_version=row.ruleset_version,
    )
    event = DispatchAcknowledged(
        case_id=row.case_id,
        dispatch_id=dispatch_id,
        owner_id=row.owner_id,
        acknowledged_at=now,
        actor=key.actor,
    )
    await write_events(
        conn,
        outbox,
        [make_envelope(event, producer="router", occurred_at=now, case_id=row.case_id)],
    )
    return updated, True
