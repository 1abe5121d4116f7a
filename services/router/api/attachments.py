"""Attachments at the router: a department uploads evidence, and whoever may read a case
fetches its photos, recordings and documents.

``POST /v1/attachments`` takes the file's bytes as the body and answers its id; the id
then goes in a progress report's or a resolution's ``attachments``. A download is
``GET /v1/cases/{case_id}/attachments/{id}`` (the link in the case and the dispatch
webhook) for anyone who may read the case (``services.router.api.access``), or
``GET /v1/attachments/{id}``, which also lets the uploader read its own upload before it
is linked. Everyone else, and any id that is not 64 hex digits, gets 404.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from services.router.api.access import readable_case
from services.router.tables import attachment_uploads, case_attachments
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
UploaderKey = Annotated[ApiKey, require(Role.DEPARTMENT)]
# Not ops: photos, call recordings and ID copies are personal data, which ops never reads.
ReaderKey = Annotated[ApiKey, require(Role.DEPARTMENT, Role.SUPERVISOR, Role.CHANNEL)]


@router.post(
    UPLOAD_PATH,
    response_model=AttachmentRead,
    status_code=201,
    summary="上传附件：现场照片、办结凭证、书面承诺 (upload an attachment)",
    responses=UPLOAD_REFUSALS,
    openapi_extra=UPLOAD_BODY,
)
async def upload(key: UploaderKey, request: Request, filename: FileName = None) -> AttachmentRead:
    return await receive_upload(request, key, attachment_uploads, filename)


@router.get(
    "/v1/cases/{case_id}/attachments/{attachment_id}",
    response_class=Response,
    summary="下载诉求的附件 (download a case's attachment)",
    responses=DOWNLOAD,
)
async def case_attachment(
    case_id: UUID, attachment_id: str, key: ReaderKey, request: Request
) -> Response:
    aid = checked_id(attachment_id)
    async with request.app.state.runtime.engine.connect() as conn:
        link = (
            await conn.execute(
                select(case_attachments).where(
                    case_attachments.c.case_id == case_id,
                    case_attachments.c.attachment_id == aid,
                )
            )
        ).first()
        if link is None or not await readable_case(conn, request, key, case_id):
            raise not_found()
    return await serve(request, aid, link.filename, link.content_type)


@router.get(
    "/v1/attachments/{attachment_id}",
    response_class=Response,
    summary="下载附件：本方上传的，或有权查看的诉求上的 (download an attachment)",
    responses=DOWNLOAD,
)
async def attachment(attachment_id: str, key: ReaderKey, request: Request) -> Response:
    aid = checked_id(attachment_id)
    async with request.app.state.runtime.engine.connect() as conn:
        found = await _readable(conn, request, key, aid)
    if found is None:
        raise not_found()
    return await serve(request, aid, found.filename, found.content_type)


async def _readable(conn: Any, request: Request, key: ApiKey, aid: str) -> Any:
    """The caller's own upload of ``aid``, else its link on a case the caller may read."""
    own = (
        await conn.execute(
            select(attachment_uploads).where(
                attachment_uploads.c.attachment_id == aid,
                attachment_uploads.c.uploaded_by == key.actor,
            )
        )
    ).first()
    if own is not None:
        return own
    links = (
        await conn.execute(
            select(case_attachments).where(case_attachments.c.attachment_id == aid).limit(100)
        )
    ).all()
    for link in links:
        if await readable_case(conn, request, key, link.case_id):
            return link
    return None
