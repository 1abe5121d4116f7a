"""The signed rating link (回访评价链接) a petitioner opens from an SMS or email.

``GET /v1/feedback/{token}`` is a small Chinese page, readable at phone width: the matter,
the result the department reported, three choices (满意 / 基本满意 / 不满意) and an optional
comment. The page's form posts to the same address (``application/x-www-form-urlencoded``)
and, once the rating is taken, is sent back to the page (303, Post/Redirect/Get), which then
thanks the petitioner; a second post finds the rating already there. A channel's app posts
JSON to the same address and gets the API answer (202) as before.

The link is the capability: no key, no cookie (so no cross-site request to forge), and the
page shows no personal data (the title and result are masked like every text leaving intake).
An invalid, forged or expired link answers 404 with a Chinese page saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import parse_qs
from uuid import UUID

from fastapi import APIRouter, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from sqlalchemy import select

from services.intake.api.feedback import FeedbackAccepted, FeedbackCreate, accept_rating
from services.intake.tables import cases
from shared.auth.dependency import AnonymousLimit
from shared.domain.calendar import SHANGHAI
from shared.domain.errors import Conflict, NotFound
from shared.domain.taxonomy import label
from shared.security.links import read_feedback_token
from shared.security.redact import mask_numbers
from shared.web.problems import ANONYMOUS, BODY, CONFLICT, InvalidRequest, Problem

router = APIRouter(prefix="/v1", tags=["feedback"])
MAX_TOKEN = 512
_HTML = {"text/html": {"schema": {"type": "string"}}}
_pages = Environment(
    loader=FileSystemLoader(FilePath(__file__).parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
RATINGS = (("satisfied", "满意"), ("basically_satisfied", "基本满意"), ("unsatisfied", "不满意"))
OUTCOMES = {"resolved": "已解决", "explained": "已解释说明", "referred": "已移交其他渠道"}
# The page's own policy: its style is inline, it loads nothing, and it posts only to itself.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_INVALID = "评价链接无效或已过期。如需评价，请拨打 12345 或联系所在社区。"
_STATUS_TEXT = {
    "rated": "您已评价，感谢您的反馈！",
    "closed": "该诉求已结案，无需再评价。感谢您的支持！",
}
_NOT_YET = "该诉求尚在办理中，办结后我们会再次请您评价。"
_BODIES = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/FeedbackCreate"}},
            "application/x-www-form-urlencoded": {
                "schema": {"$ref": "#/components/schemas/FeedbackCreate"}
            },
        },
    }
}
Token = Annotated[str, Path(max_length=MAX_TOKEN)]


@dataclass(frozen=True)
class CaseView:
    number: str
    title: str
    category: str
    received_at: str
    result: dict[str, str] | None


@router.get(
    "/feedback/{token}",
    response_class=HTMLResponse,
    summary="评价页面（短信链接）(the rating page a petitioner opens)",
    responses=ANONYMOUS | {404: {"description": "链接无效或已过期 (invalid or expired link)"}},
    dependencies=[AnonymousLimit],
)
async def feedback_page(token: str, request: Request) -> Response:
    case_id = _case_of(request, token)
    if case_id is None:
        return _page(404, "评价链接无效", message=_INVALID, bad=True)
    row = await _case_row(request, case_id)
    if row is None:
        return _page(404, "评价链接无效", message=_INVALID, bad=True)
    view = _view(request, row)
    if row.status == "resolved":
        return _page(200, "请您评价办理结果", case=view, form=True)
    return _page(200, "诉求办理情况", case=view, message=_STATUS_TEXT.get(row.status, _NOT_YET))


@router.post(
    "/feedback/{token}",
    response_model=FeedbackAccepted,
    status_code=202,
    summary="凭签名链接评价 (rate by signed link, no key; JSON or the page's form)",
    openapi_extra=_BODIES,
    dependencies=[AnonymousLimit],
    responses=CONFLICT
    | BODY
    | ANONYMOUS
    | {
        303: {"description": "表单已提交，返回评价页面 (the page's form: back to the page)"},
        404: {
            "model": Problem,
            "description": "链接无效或已过期 (invalid or expired link; the form gets the page)",
            "content": _HTML,
        },
        422: {
            "model": InvalidRequest,
            "description": "请求内容无效 (invalid request; the form gets the page)",
            "content": _HTML,
        },
    },
)
async def post_feedback_by_link(token: Token, request: Request) -> Any:
    if _is_form(request):
        return await _post_form(token, request)
    try:
        body = FeedbackCreate.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None
    case_id = _case_of(request, token)
    if case_id is None:
        raise NotFound("评价链接无效或已过期 (invalid or expired link)")
    return await accept_rating(request, case_id, body, channel=None)


async def _post_form(token: str, request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    case_id = _case_of(request, token)
    if case_id is None:
        return _page(404, "评价链接无效", message=_INVALID, bad=True)
    try:
        body = FeedbackCreate(
            rating=(form.get("rating") or [""])[0],
            comment=(form.get("comment") or [""])[0].strip(),
        )
    except ValidationError:
        row = await _case_row(request, case_id)
        view = _view(request, row) if row is not None else None
        message = "请选择“满意”“基本满意”或“不满意”，意见不超过 500 字。"
        return _page(422, "请您评价办理结果", case=view, form=True, message=message, bad=True)
    try:
        await accept_rating(request, case_id, body, channel=None)
    except (Conflict, NotFound):
        pass  # the page shows the case as it now stands (already rated, closed, ...)
    # the path only: behind a TLS-terminating proxy the request's own URL says http://
    return RedirectResponse(request.url.path, status_code=303)


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/x-www-form-urlencoded"


def _case_of(request: Request, token: str) -> UUID | None:
    if len(token) > MAX_TOKEN:
        return None
    runtime = request.app.state.runtime
    key = runtime.settings.key_pepper.get_secret_value()
    return read_feedback_token(key, token, runtime.clock.now().timestamp())


async def _case_row(request: Request, case_id: UUID) -> Any:
    async with request.app.state.runtime.engine.connect() as conn:
        return (await conn.execute(select(cases).where(cases.c.case_id == case_id))).first()


def _view(request: Request, row: Any) -> CaseView:
    deps = request.app.state.runtime.deps
    result = (row.status_detail or {}).get("result")
    shown = None
    if result:
        owner = deps.owners.get(result.get("lead_owner_id", "")) if deps.owners else None
        shown = {
            "outcome": OUTCOMES.get(result.get("outcome", ""), result.get("outcome", "")),
            "summary": mask_numbers(result.get("summary", "")),
            "owner": owner.name if owner else "",
        }
    return CaseView(
        number=row._mapping.get("case_number") or str(row.case_id),
        title=mask_numbers(row.title),
        category=deps.category_names.get(row.category, label(row.category)),
        received_at=_local(row.received_at),
        result=shown,
    )


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _page(status: int, heading: str, **context: Any) -> HTMLResponse:
    html = _pages.get_template("feedback.html").render(
        heading=heading, ratings=RATINGS, **{"case": None, "form": False} | context
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"},
    )
