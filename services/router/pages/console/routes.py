"""``GET /console``: the ops and supervisors' console.

A supervisor sees its own area only: the KPIs default to it (another area is 403), and
intake and escalation, which get its key, answer only what lies in it; the queues are
shown to ops and admin only. Sign-in: post the key from the form at ``/console``
(``POST /console/login``, rate-limited per client address); it is checked, stored in an
HttpOnly, SameSite=Strict cookie scoped to ``/console`` (8 hours; Secure when served over
https), and the browser is redirected to the console with the window it asked for
(``from``, ``to``, ``area``). A key in the URL (``?key=``) is refused with 400: URLs end
up in browser history, proxy logs and Referer headers. ``POST /console/logout`` forgets
it. Pages carry a Content-Security-Policy without inline script or style
(:data:`shared.web.headers.PAGE_CSP`), are never framed and never cached. The page
reloads its data every 10 s.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from services.router import sources
from services.router.api.reports import KpiReport, report_for, scoped, window_of
from services.router.pages.console import view
from services.router.pages.signin import (
    KEY_IN_URL,
    PAGE_HEADERS,
    keep_cookie,
    read_form,
    signed_out,
    static_file,
    verify,
)
from shared.auth.audit import admin_use
from shared.auth.dependency import AnonymousLimit
from shared.auth.keys import ApiKey, Role
from shared.domain.calendar import SHANGHAI

HERE = Path(__file__).parent
STATIC = {"console.css": "text/css", "console.js": "text/javascript"}
COOKIE = "shaobao_console"
READERS = (Role.OPS, Role.SUPERVISOR, Role.ADMIN)
WINDOW = ("from", "to", "area")  # what a sign-in carries over to the page it opens
BAD_KEY = "密钥无效，或不是运维/督查角色 (invalid key or wrong role)"

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(pct=view.pct, num=view.num, goal_value=view.goal_value)


async def _verify(request: Request, raw: str | None) -> ApiKey | None:
    return await verify(request, raw, READERS)


def _signed_in(request: Request, raw: str, window: dict[str, str]) -> RedirectResponse:
    """To the console (never anywhere else) with the window the sign-in carried."""
    query = urlencode({k: v for k, v in window.items() if k in WINDOW and v})
    resp = RedirectResponse("/console" + (f"?{query}" if query else ""), status_code=303)
    keep_cookie(resp, request, COOKIE, raw, "/console")
    return resp


def _login(
    request: Request, window: dict[str, str], error: str | None = None, status: int = 401
) -> HTMLResponse:
    kept = {k: v for k, v in window.items() if k in WINDOW and v}
    return templates.TemplateResponse(
        request, "login.html", {"error": error, "window": kept},
        status_code=status if error else 200, headers=PAGE_HEADERS,
    )  # fmt: skip


@router.get("", response_class=HTMLResponse)
async def console(
    request: Request,
    key: Annotated[str | None, Query()] = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    area: Annotated[str, Query()] = "",
) -> Response:
    asked = dict(request.query_params)
    if key is not None:  # never checked: it is not used, and must not be kept in URLs
        return _login(request, asked, KEY_IN_URL, status=400)
    raw = request.cookies.get(COOKIE)
    who = await _verify(request, raw)
    if who is None or raw is None:
        return _login(request, asked)
    runtime = request.app.state.runtime
    await admin_use(request, who)
    window = scoped(request, who, window_of(runtime.clock.now(), start, end, area))
    report = await report_for(request, window, raw)
    context = await _context(request, report, raw, system=who.role is not Role.SUPERVISOR)
    return templates.TemplateResponse(
        request, "console.html", context | {"who": who}, headers=PAGE_HEADERS
    )


@router.post("/login", response_class=HTMLResponse, dependencies=[AnonymousLimit])
async def login(request: Request) -> Response:
    form = await read_form(request)
    raw = form.pop("key", "").strip()
    if await _verify(request, raw) is None:
        return _login(request, form, BAD_KEY)
    return _signed_in(request, raw, form)


@router.post("/logout")
async def logout() -> Response:
    return signed_out("/console", COOKIE)


@router.get("/static/{name}")
async def static(name: str) -> FileResponse:
    return static_file(HERE / "static", STATIC, name)


async def _context(
    request: Request, report: KpiReport, raw: str, *, system: bool
) -> dict[str, Any]:
    """What the page shows; ``system`` (ops, admin) adds the queues, which are no area's."""
    runtime = request.app.state.runtime
    src = sources.Sources.from_env(runtime.settings)
    async with httpx.AsyncClient() as http:
        queues, whistles, alerts = await asyncio.gather(
            sources.queues(http, src) if system else _nothing(),
            sources.open_whistles(http, src, raw),
            sources.alerts(http, src, raw),
        )
    owners = runtime.deps.owners
    first = report.start.astimezone(SHANGHAI).date()
    last = (report.end - timedelta(microseconds=1)).astimezone(SHANGHAI).date()
    overdue = sorted(
        ((o, k.open_overdue) for o, k in report.by_owner.items() if k.open_overdue),
        key=lambda x: -x[1],
    )
    return {
        "r": report,
        "k": report.total,
        "queues": queues,
        "show_queues": system,
        "whistles": whistles,
        "alerts": None if alerts is None else [view.summary(a) for a in alerts[:20]],
        "funnel": view.funnel(report.total.by_state),
        "bars": view.bars(report.cases_per_day, first, last),
        "trend": view.trend(report.by_week),
        "chart": {"w": view.CHART_W, "h": view.CHART_H, "pad": view.CHART_PAD},
        "overdue": overdue,
        "owner_name": lambda o: owners.get(o).name if owners.get(o) else o,
        "expired": sum(k.by_state.get("expired", 0) for k in report.by_owner.values()),
        "q": dict(request.query_params),
        "iso": lambda dt: dt.astimezone(SHANGHAI).isoformat(timespec="seconds"),
        "local": lambda dt: dt.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
    }


async def _nothing() -> None:
    return None
