"""Rendering a workbench page: its templates, the helpers every page gets, its headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from services.router.pages.signin import PAGE_HEADERS
from services.router.pages.workbench.session import BAD_CSRF, PATH, Who, csrf_ok, current
from services.router.pages.workbench.view import Names, helpers, parse_at
from shared.auth.keys import Role

HERE = Path(__file__).parent
NOT_SIGNED_IN = "请先登录工作台 (sign in first)"
templates = Jinja2Templates(directory=HERE / "templates")
DONE = {
    "acknowledge": "已签收", "return": "已退单", "progress": "进展已报告",
    "extension": "延期申请已提交，等待上级审批", "resolve": "已办结，等待回访",
    "whistle": "已吹哨，召集单位将收到通知", "lead": "已指定主办单位",
    "approve": "已批准延期", "refuse": "已驳回延期", "rating": "回访评价已记录",
    "register": "诉求已登记", "replay": "已安排重新投递",
    "triage": "已判定并派单", "reclassify": "已重新分类并重新派单",
    "dead_letters": "死信已重放", "received": "预警已标记为已收到",
    "handled": "预警已标记为已处理",
}  # fmt: skip


def render(
    request: Request, who: Who | None, name: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    deps = request.app.state.runtime.deps
    names = Names(deps.owners, deps.rules.categories, deps.place_name)
    done = DONE.get(request.query_params.get("done", ""))
    now = request.app.state.runtime.clock.now()
    base = {"who": who, "done": done, "error": None, "now": now, "back_path": request.url.path,
            "past": lambda value: bool(value) and parse_at(value) < now}  # fmt: skip
    return templates.TemplateResponse(
        request, name, base | helpers(names) | context, status_code=status, headers=PAGE_HEADERS
    )


def refused(request: Request, who: Who | None, reason: str, status: int) -> HTMLResponse:
    """A page saying why (404 for a case that is not the person's, as the API answers)."""
    return render(request, who, "refused.html", {"error": reason}, status=status)


def back_to(path: str, done: str) -> RedirectResponse:
    """Post/Redirect/Get: to a workbench page (never elsewhere), saying what was done."""
    if not path.startswith(PATH):
        path = PATH
    sep = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{sep}done={done}", status_code=303)


async def gate(request: Request, *roles: Role) -> Who | Response:
    """The signed-in person when of one of ``roles`` (admin always), else the answer to
    give: to the sign-in page without a session, a 403 page for another role."""
    who = await current(request)
    if who is None:
        return RedirectResponse(PATH, status_code=303)
    if roles and who.role not in roles and who.role is not Role.ADMIN:
        return refused(request, who, "此页面不适用于您的角色 (not for your role)", 403)
    return who


async def posted(request: Request, *roles: Role) -> tuple[Who, dict[str, str]] | Response:
    """A form post from a signed-in person of ``roles`` with its session's CSRF token."""
    who = await gate(request, *roles)
    if isinstance(who, Response):
        return who if who.status_code != 303 else refused(request, None, NOT_SIGNED_IN, 401)
    form = await form_of(request)
    if not csrf_ok(who, form):
        return refused(request, who, BAD_CSRF, 403)
    return who, form


async def form_of(request: Request) -> dict[str, str]:
    """The text fields of an urlencoded or multipart form (files are read by the route)."""
    data = await request.form()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def uuid_or_none(text: str | None) -> UUID | None:
    """A posted id, or None when it is not one (the API then answers 404 or 422)."""
    try:
        return UUID(text or "")
    except ValueError:
        return None
