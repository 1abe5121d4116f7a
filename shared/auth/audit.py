"""The audit log (``platform.audit_log``): who used an admin key or saw personal data.

Written in the request, before the answer: every request made with an admin key
(``admin.request``: method and path), every reveal of a petitioner's full contact
(``petitioner.reveal``) and every read of a contact by a service key
(``petitioner.contact``). Rows name keys and cases, never the personal data itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from shared.auth.keys import ApiKey, Role
from shared.db.platform import audit_log


async def record(conn: AsyncConnection, key: ApiKey, action: str, **detail: Any) -> None:
    """One audit row in the caller's transaction."""
    await conn.execute(
        insert(audit_log).values(
            actor=key.actor, action=action, detail={"key_id": str(key.id), **detail}
        )
    )


async def admin_use(request: Request, key: ApiKey) -> None:
    """Record a request made with an admin key (its own transaction); others pass."""
    if key.role is not Role.ADMIN:
        return
    async with request.app.state.runtime.engine.begin() as conn:
        await record(conn, key, "admin.request", method=request.method, path=request.url.path)
