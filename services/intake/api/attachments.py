"""Attachments at intake: a channel uploads the resident's photos, call recordings and
documents first (``POST /v1/attachments``, the bytes as the body), then names their ids in
the submission's ``attachments``. They travel on ``case.received`` (what they are, never
the bytes) to the router, which keeps them on the case and serves them to whoever may
read it. Here a channel reads back only its own uploads; any other key, an unknown id and
an id that is not 64 hex digits get the same 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from services.intake.schemas import CaseCreate
from services.intake.tables import attachment_uploads
from shared.attachments.linking import own_attachments
from shared.attachments.web import (
    DOWNLOAD,
    UPLOAD_BODY,
    UPLOAD_PATH,
    UPLOAD_REFUSALS,
    AttachmentRead,
    FileName,
    checked_id,
    not_found,
    receive_upload,
    serve,
)
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.web.problems import KEYED

router = APIRouter(tags=["attachments"], responses=KEYED)
ChannelKey = Annotated[ApiKey, require(Role.CHANNEL)]


@router.post(
    UPLOAD_PATH,
    response_model=AttachmentRead,
    status_code=201,
    summary="上传附件：照片、通话录音、文件 (upload an attachment)",
    responses=UPLOAD_REFUSALS,
    openapi_extra=UPLOAD_BODY,
)
async def upload(key: ChannelKey, request: Request, filename: FileName = None) -> AttachmentRead:
    return await receive_upload(request, key, attachment_uploads, filename)


@router.get(
    "/v1/attachments/{attachment_id}",
    response_class=Response,
    summary="下载本渠道上传的附件 (download an own upload)",
    responses=DOWNLOAD,
)
async def own_attachment(attachment_id: str, key: ChannelKey, request: Request) -> Response:
    aid = checked_id(attachment_id)
    async with request.app.state.runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                select(attachment_uploads).where(
                    attachment_uploads.c.attachment_id == aid,
                    attachment_uploads.c.uploaded_by == key.actor,
                )
            )
        ).first()
    if row is None:
        raise not_found()
    return await serve(request, aid, row.filename, row.content_type)


async def resolve_attachments(request: Request, key: ApiKey, body: CaseCreate) -> None:
    """Give the submission what its attachments are (422 when one is not the channel's
    own upload), for ``case.received``."""
    if not body.attachments:
        return
    runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        body._attachment_infos = await own_attachments(
            conn, attachment_uploads, body.attachments, actor=key.actor, at=runtime.clock.now()
        )
