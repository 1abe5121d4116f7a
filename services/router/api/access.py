"""Who may read a case at the router (its content, timeline and attachments).

- a department: while it holds a live dispatch of the case (not returned, not cancelled);
- a supervisor: when the case lies in its office's area (``shared.auth.scope``);
- the channel that submitted the case (its key names that channel);
- ops and admin: every case.

Anyone else gets the same 404 as for a case that does not exist.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import Request
from sqlalchemy import Row, select

from services.router.tables import cases, dispatches
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import area_of
from shared.domain.lifecycle import NOT_LIVE


def may_read(request: Request, key: ApiKey, case: Row[Any], held: list[Row[Any]]) -> bool:
    """``held``: the case's dispatches (only a department's are looked at)."""
    if key.role is Role.DEPARTMENT:
        return any(d.owner_id == key.owner_id and d.state not in NOT_LIVE for d in held)
    if key.role is Role.CHANNEL:
        return key.channel is not None and key.channel == case.channel
    return in_area(request, key, case.location)


def in_area(request: Request, key: ApiKey, location: dict[str, Any] | None) -> bool:
    return area_of(key, request.app.state.runtime.deps.owners).covers_location(location)


async def readable_case(conn: Any, request: Request, key: ApiKey, case_id: UUID) -> bool:
    """True when the case exists and ``key`` may read it."""
    case = (await conn.execute(select(cases).where(cases.c.case_id == case_id))).first()
    if case is None:
        return False
    held = (
        await conn.execute(
            select(dispatches.c.owner_id, dispatches.c.state).where(dispatches.c.case_id == case_id)
        )
    ).all()
    return may_read(request, key, case, list(held))
