"""Receiving and serving attachments over HTTP, the same in every service that does it.

An upload is the file's bytes as the request body (``POST /v1/attachments?filename=...``);
the client's ``Content-Type`` is ignored, the type is sniffed from the bytes. Empty: 422;
over ``attachment_max_bytes``: 413 (the body limit of the path refuses it before it is
read: ``body_limits``); a type not accepted: 415; each with a Chinese reason. The bytes
are stored first and the row second: a crash between leaves bytes no row names (harmless;
the same bytes uploaded again find them), never a row naming missing bytes.

The answer never says whether the bytes were stored before: that would tell anyone who
holds a file whether someone else had uploaded it.

A download is the stored bytes with the stored (sniffed) type, ``nosniff``, and
``Content-Disposition: attachment`` with the cleaned name, so a browser saves the file
instead of showing it: a polyglot (a JPEG that is also a page) never runs as a page.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.attachments.store import Storage, StoreUnavailable, make_store
from shared.auth.keys import ApiKey
from shared.domain.attachments import (
    ACCEPTED_TEXT,
    FileType,
    attachment_id,
    clean_name,
    is_attachment_id,
    sniff,
)
from shared.web.problems import NOT_FOUND

log = structlog.get_logger(__name__)
UPLOAD_PATH = "/v1/attachments"
# A download's answers, for both services' download routes.
DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "文件内容（下载）"},
    **NOT_FOUND,
}
FileName = Annotated[str | None, Query(max_length=255, description="原文件名（仅供显示）")]
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"文件内容本身（不是表单）。接受：{ACCEPTED_TEXT}",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
UPLOAD_REFUSALS: dict[int | str, dict[str, Any]] = {
    413: {"description": "文件超过大小上限 (too large)"},
    415: {"description": "不接受的文件类型（按文件内容判断）(unsupported type)"},
    422: {"description": "文件为空 (empty)"},
    503: {"description": "附件存储暂不可用，请稍后重试 (storage unavailable)"},
}


class AttachmentRead(BaseModel):
    attachment_id: str = Field(description="附件编号：内容的 SHA-256")
    filename: str = Field(description="文件名（已清理）")
    content_type: str = Field(description="按内容判断的类型")
    size: int = Field(description="字节数")
    uploaded_by: str
    uploaded_at: datetime


def store_of(request: Request) -> Storage:
    """The app's attachment store, made from its settings on first use."""
    state = request.app.state
    if getattr(state, "attachment_store", None) is None:
        state.attachment_store = make_store(state.runtime.settings)
    store: Storage = state.attachment_store
    return store


async def receive_upload(
    request: Request, key: ApiKey, uploads: Table, filename: str | None
) -> AttachmentRead:
    """Check, store and record one upload (module docstring); the caller's route answers."""
    runtime = request.app.state.runtime
    data = await request.body()
    limit = runtime.settings.attachment_max_bytes
    if not data:
        raise HTTPException(422, "附件为空：请求体应是文件内容本身 (empty upload)")
    if len(data) > limit:
        raise HTTPException(413, f"附件超过 {limit} 字节上限 (attachment too large)")
    # Hashing 20 MiB takes tens of milliseconds: off the event loop, like the sniffing
    # (a docx is a zip whose directory is read).
    kind, aid = await asyncio.to_thread(_identify, data)
    if kind is None:
        raise HTTPException(415, f"不接受此类文件；可上传：{ACCEPTED_TEXT} (unsupported type)")
    await _put(request, aid, data, kind.mime)
    row = {
        "attachment_id": aid,
        "uploaded_by": key.actor,
        "uploader_key": key.id,
        "filename": clean_name(filename, kind),
        "content_type": kind.mime,
        "size": len(data),
        "uploaded_at": runtime.clock.now(),
    }
    stmt = pg_insert(uploads).values(row)
    stmt = stmt.on_conflict_do_update(
        index_elements=[uploads.c.attachment_id, uploads.c.uploaded_by],
        set_={"filename": stmt.excluded.filename, "uploader_key": stmt.excluded.uploader_key},
    )
    async with runtime.engine.begin() as conn:
        await conn.execute(stmt)
    log.info("attachment_uploaded", attachment_id=aid, size=len(data), type=kind.mime)
    return AttachmentRead.model_validate(row)


def _identify(data: bytes) -> tuple[FileType | None, str]:
    """The file's sniffed kind (None: not accepted) and its id (SHA-256)."""
    return sniff(data), attachment_id(data)


async def _put(request: Request, aid: str, data: bytes, mime: str) -> None:
    try:
        await store_of(request).put(aid, data, mime)
    except StoreUnavailable as exc:
        log.error("attachment_store_failed", attachment_id=aid, error=repr(exc)[:300])
        raise HTTPException(
            503,
            "附件存储暂不可用，请稍后重试 (attachment storage unavailable)",
            headers={"Retry-After": "5"},
        ) from exc


def not_found() -> HTTPException:
    return HTTPException(404, "附件不存在 (attachment not found)")


def checked_id(text: str) -> str:
    """The id when it is one; else 404, the same answer as for an unknown attachment."""
    if not is_attachment_id(text):
        raise not_found()
    return text


async def serve(request: Request, aid: str, filename: str, content_type: str) -> Response:
    """The stored bytes as a download (module docstring)."""
    try:
        data = await store_of(request).get(aid)
    except StoreUnavailable as exc:
        log.error("attachment_read_failed", attachment_id=aid, error=repr(exc)[:300])
        raise HTTPException(503, "附件存储暂不可用，请稍后重试 (attachment storage unavailable)",
                            headers={"Retry-After": "5"}) from exc  # fmt: skip
    if data is None:
        log.error("attachment_bytes_missing", attachment_id=aid)
        raise not_found()
    return Response(data, media_type=content_type, headers=download_headers(aid, filename))


def download_headers(aid: str, filename: str) -> dict[str, str]:
    """Save, never show: an ASCII fallback name and the UTF-8 name (RFC 6266 / 5987)."""
    fallback = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in filename)
    return {
        "Content-Disposition": (
            f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "ETag": f'"{aid}"',
    }
