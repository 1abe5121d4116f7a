"""Naming uploads: what a case submission (intake) or a progress report or resolution
(router) may link, checked the same way in both services.

A caller links only what it uploaded itself (its key's actor). An id that is unknown and
one that another uploaded get the same :class:`~shared.domain.errors.Invalid` (422),
naming the first such id: an answer never tells whether someone else holds a file. Use-case
code: no web framework here (the web layer maps ``Invalid`` to 422 once).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.contracts.events import AttachmentInfo
from shared.domain.errors import Invalid


async def own_attachments(
    conn: AsyncConnection, uploads: Table, ids: list[str], *, actor: str, at: datetime
) -> list[AttachmentInfo]:
    """``ids`` (each once, in order) as linked by ``actor`` at ``at``: what each upload is.

    Invalid (422) when one is not ``actor``'s own upload in ``uploads``."""
    wanted = list(dict.fromkeys(ids))
    found = await _own_uploads(conn, uploads, wanted, actor)
    return [
        AttachmentInfo(
            attachment_id=aid,
            filename=found[aid].filename,
            content_type=found[aid].content_type,
            size=found[aid].size,
            attached_by=actor,
            attached_at=at,
        )
        for aid in wanted
    ]


async def _own_uploads(
    conn: AsyncConnection, uploads: Table, wanted: list[str], actor: str
) -> dict[str, Any]:
    """The rows of ``actor``'s uploads among ``wanted``, by id; Invalid naming the first
    id that is not its own."""
    query = select(uploads).where(
        uploads.c.attachment_id.in_(wanted), uploads.c.uploaded_by == actor
    )
    found = {r.attachment_id: r for r in (await conn.execute(query)).all()}
    for aid in wanted:
        if aid not in found:
            raise Invalid(f"附件 {aid[:12]}… 不存在或不是本方上传的，请先上传 (unknown attachment)")
    return found
