"""``/workbench``: sign in once with a key of any role, then the home page of that role.

Sign-in is the console's (``services.router.pages.signin``): the key is posted from the form
(``POST /workbench/login``, rate-limited per address), kept in an HttpOnly SameSite=Strict
cookie for ``/workbench`` with a per-session nonce and the name the person gave (the
window's 首问负责人); ``?key=`` is refused with 400. Pages without a session send the
browser to the sign-in page; a form without its session's CSRF token is refused with 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from services.router.pages.signin import (
    KEY_IN_URL,
    keep_cookie,
    read_form,
    signed_out,
    static_file,
    verify,
)
from services.router.pages.workbench import (
    acting,
    cases,
    department,
    dispatcher,
    ops,
    supervisor,
    triage,
)
from services.router.pages.workbench.pages import HERE, render
from services.router.pages.workbench.session import COOKIE, PATH, ROLES, cookie_value, current
from shared.auth.dependency import AnonymousLimit
from shared.auth.keys import Role

STATIC = {"workbench.css": "text/css", "workbench.js": "text/javascript"}
BAD_KEY = "密钥无效、已吊销或已过期 (invalid, revoked or expired key)"
HOMES = {
    Role.DEPARTMENT: department.home, Role.SUPERVISOR: supervisor.home,
    Role.CHANNEL: dispatcher.home, Role.OPS: ops.home, Role.ADMIN: ops.home,
}  # fmt: skip

router = APIRouter(prefix=PATH, tags=["workbench"], include_in_schema=False)


def _login(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    return render(request, None, "login.html", {"error": error}, status=status)


@router.get("", response_class=HTMLResponse)
async def home(request: Request, key: Annotated[str | None, Query()] = None) -> Response:
    if key is not None:  # never checked: it must not be kept in URLs
        return _login(request, KEY_IN_URL, status=400)
    who = await current(request)
    if who is None:
        return _login(request)
    return await HOMES[who.role](request, who)


@router.post("/login", response_class=HTMLResponse, dependencies=[AnonymousLimit])
async def login(request: Request) -> Response:
    form = await read_form(request)
    raw = form.get("key", "").strip()
    if await verify(request, raw, ROLES) is None:
        return _login(request, BAD_KEY, status=401)
    resp = RedirectResponse(PATH, status_code=303)
    keep_cookie(resp, request, COOKIE, cookie_value(raw, form.get("person", "").strip()[:32]), PATH)
    return resp


@router.post("/logout")
async def logout() -> Response:
    return signed_out(PATH, COOKIE)


@router.get("/static/{name}")
async def static(name: str) -> FileResponse:
    return static_file(HERE / "static", STATIC, name)


for part in (cases, acting, department, supervisor, dispatcher, ops, triage):
    router.include_router(part.router)
