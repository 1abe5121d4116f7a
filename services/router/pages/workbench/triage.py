"""The dispatchers' queue (派单队列) and reclassification (重新分类) in the browser.

For the desk's dispatchers, who sign in with a supervisor key of the desk's office (a
district petition bureau; the city's for cases of no known place): the open queue of
their area (``GET /v1/triage``) with each case's text, address, the model's top three with
their probabilities and where the rules would send each, the candidate places and the
queue's own deadline; a pick (``POST /v1/triage/{case_id}``) routes the case at once. On
a case page a supervisor may reclassify an open case (``POST /v1/cases/{id}/reclassify``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from services.router.pages.workbench.casepage import case_page
from services.router.pages.workbench.pages import (
    back_to,
    gate,
    posted,
    refused,
    render,
    uuid_or_none,
)
from services.router.pages.workbench.upstream import Upstream
from shared.auth.keys import Role
from shared.domain.triage_rules import matters

router = APIRouter()


@router.get("/triage")
async def queue(request: Request) -> Response:
    who = await gate(request, Role.SUPERVISOR)
    if isinstance(who, Response):
        return who
    async with Upstream(request, who.raw) as api:
        got = await api.get("router", "/v1/triage", limit=100)
    if not got.ok:
        return refused(request, who, got.reason, got.status)
    context: dict[str, Any] = {"items": got.body["items"], "all_categories": _categories(request)}
    return render(request, who, "triage.html", context)


def _categories(request: Request) -> list[tuple[str, str]]:
    return list(matters(request.app.state.runtime.deps.rules.categories).items())


@router.post("/triage/pick")
async def pick(request: Request) -> Response:
    got = await posted(request, Role.SUPERVISOR)
    if isinstance(got, Response):
        return got
    who, form = got
    category = form.get("other_category") or form.get("category", "")
    place = form.get("other_place", "").strip() or form.get("place", "")
    body = {"category": category, "place": place, "reason": form.get("reason", "")}
    async with Upstream(request, who.raw) as api:
        answer = await api.post("router", f"/v1/triage/{uuid_or_none(form.get('case_id'))}", body)
    if answer.ok:
        return back_to("/workbench/triage", "triage")
    return refused(request, who, answer.reason, answer.status)


@router.post("/reclassify")
async def reclassify(request: Request) -> Response:
    got = await posted(request, Role.SUPERVISOR)
    if isinstance(got, Response):
        return got
    who, form = got
    case_id = uuid_or_none(form.get("case_id"))
    body: dict[str, Any] = {"reason": form.get("reason", "")}
    if form.get("category"):
        body["category"] = form["category"]
    if form.get("place", "").strip():
        body["place"] = form["place"].strip()
    async with Upstream(request, who.raw) as api:
        answer = await api.post("router", f"/v1/cases/{case_id}/reclassify", body)
    if answer.ok:
        return back_to(f"/workbench/cases/{case_id}", "reclassify")
    if case_id is None:
        return refused(request, who, answer.reason, answer.status)
    return await case_page(request, who, case_id, answer.reason, answer.status)
