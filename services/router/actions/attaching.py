"""Attachments a department adds to its progress report or resolution (evidence).

A department links only what it uploaded itself (``POST /v1/attachments``, its key's
owner); an id that is unknown or another's is 422 and the whole action is refused. The
link copies the upload's name and type onto the case, with who attached it and when.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.router.actions.common import ActionContext
from services.router.tables import attachment_uploads, case_attachments
from shared.attachments.linking import own_attachments
from shared.contracts.events import AttachmentInfo


async def attach(
    ctx: ActionContext, case_id: UUID, dispatch_id: UUID, ids: list[str], kind: str
) -> list[AttachmentInfo]:
    """Link the caller's uploads ``ids`` to the dispatch's case as ``kind``."""
    if not ids:
        return []
    infos = await own_attachments(
        ctx.conn, attachment_uploads, ids, actor=ctx.key.actor, at=ctx.now
    )
    rows = [
        {**i.model_dump(), "case_id": case_id, "kind": kind, "dispatch_id": dispatch_id}
        for i in infos
    ]  # fmt: skip
    await ctx.conn.execute(pg_insert(case_attachments).values(rows).on_conflict_do_nothing())
    return infos


def linked(files: list[AttachmentInfo]) -> dict[str, list[str]]:
    """The timeline detail naming the attachments linked (nothing when none were)."""
    return {"attachments": [f.attachment_id for f in files]} if files else {}
