"""The dispatcher (a channel key: the 12345 window, a community window): registers a case
for a caller or a walk-in through intake's ``POST /v1/cases`` with the window's key; the
signed-in person's name is the case's 首问负责人 (``received_by``). The triage queue is
another page (the lead's triage API); its place in the navigation is kept."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from services.router.pages.workbench.pages import back_to, posted, render
from services.router.pages.workbench.session import Who
from services.router.pages.workbench.upstream import Upstream
from shared.auth.keys import Role
from shared.db.platform import api_keys

router = APIRouter()
LEVELS = ("district", "street", "community", "grid", "compound")
URGENCIES = {"normal": "一般", "urgent": "加急", "emergency": "紧急"}


async def home(request: Request, who: Who, error: str | None = None, status: int = 200,
               form: dict[str, str] | None = None) -> Response:  # fmt: skip
    rules = request.app.state.runtime.deps.rules
    context: dict[str, Any] = {
        "categories": sorted(rules.categories.items()), "urgencies": URGENCIES,
        "levels": LEVELS, "form": form or {}, "error": error,
        "case_number": request.query_params.get("number", ""),
    }  # fmt: skip
    return render(request, who, "dispatcher.html", context, status=status)


@router.post("/register")
async def register(request: Request) -> Response:
    got = await posted(request, Role.CHANNEL)
    if isinstance(got, Response):
        return got
    who, form = got
    async with Upstream(request, who.raw) as api:
        answer = await api.post("intake", "/v1/cases", _case(form, await _receiver(request, who)))
    if not answer.ok:
        return await home(request, who, answer.reason, answer.status, form)
    number = answer.body.get("case_number") or ""
    return back_to(f"/workbench?number={number}", "register")


async def _receiver(request: Request, who: Who) -> str | None:
    """首问负责人: the name given at sign-in, else the key's label."""
    if who.person:
        return who.person
    async with request.app.state.runtime.engine.connect() as conn:
        label = await conn.scalar(select(api_keys.c.label).where(api_keys.c.id == who.key.id))
    return (label or "")[:64] or None


def _case(form: dict[str, str], received_by: str | None) -> dict[str, Any]:
    petitioner = {k: v for k in ("name", "phone") if (v := form.get(k, "").strip())}
    body: dict[str, Any] = {
        "category": form.get("category", ""), "title": form.get("title", "").strip(),
        "description": form.get("description", "").strip(),
        "location": {k: v for k in LEVELS if (v := form.get(k, "").strip())},
        "urgency": form.get("urgency") or "normal",
    }  # fmt: skip
    if address := form.get("address", "").strip():
        body["address"] = address
    if petitioner:
        body["petitioner"] = petitioner
    if received_by:
        body["received_by"] = received_by
    return body
