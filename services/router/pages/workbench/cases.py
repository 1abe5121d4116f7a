"""Finding cases and reading one: the search page (``GET /v1/cases`` with the person's key:
number, text, phone, state, overdue), the whole case with its timeline and attachments
(photos shown), and the attachment itself, fetched with the key (the browser never holds
it). A case the key may not read is 404, as the API answers."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from services.router.pages.workbench.casepage import case_page
from services.router.pages.workbench.pages import gate, refused, render
from services.router.pages.workbench.upstream import Upstream

router = APIRouter()
SEARCH = ("q", "phone", "state", "overdue", "sort", "cursor", "whistle_open", "escalated_to_me")


@router.get("/cases")
async def search(request: Request) -> Response:
    who = await gate(request)
    if isinstance(who, Response):
        return who
    asked = {k: v for k in SEARCH if (v := request.query_params.get(k, "").strip())}
    found, error = None, None
    async with Upstream(request, who.raw) as api:
        answer = await api.get("router", "/v1/cases", limit=50, **asked)
    if answer.ok:
        found = answer.body
    else:
        error = answer.reason
    status = answer.status if error else 200
    return render(request, who, "cases.html", {"asked": asked, "found": found, "error": error},
                  status=status)  # fmt: skip


@router.get("/cases/{case_id}")
async def case(case_id: UUID, request: Request) -> Response:
    who = await gate(request)
    if isinstance(who, Response):
        return who
    return await case_page(request, who, case_id)


@router.get("/cases/{case_id}/attachments/{attachment_id}")
async def attachment(case_id: UUID, attachment_id: str, request: Request) -> Response:
    who = await gate(request)
    if isinstance(who, Response):
        return who
    async with Upstream(request, who.raw) as api:
        got = await api.get("router", f"/v1/cases/{case_id}/attachments/{attachment_id}")
    if not got.ok:
        return refused(request, who, got.reason, got.status)
    kind = got.content_type or "application/octet-stream"
    headers = {"Cache-Control": "private, max-age=300", "Content-Security-Policy": "sandbox"}
    return Response(got.content, media_type=kind, headers=headers)
