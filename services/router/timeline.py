"""The typed timeline: one row per thing that happened to a case, in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.router.tables import timeline


async def record(
    conn: AsyncConnection,
    *,
    case_id: UUID,
    at: datetime,
    actor: str,
    action: str,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    rule_version: str | None = None,
    dispatch_id: UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        insert(timeline).values(
            case_id=case_id,
            dispatch_id=dispatch_id,
            at=at,
            actor=actor,
            action=action,
            from_state=from_state,
            to_state=to_state,
            reason=reason,
            rule_version=rule_version,
            detail=detail,
        )
    )
