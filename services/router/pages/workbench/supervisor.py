"""The supervisor's home (a community, street or district office) and its actions.

Home: overdue cases of its area and those escalated to it (``GET /v1/cases``), open
whistles with who reported in and who is late (escalation), pending extension requests
(escalation ``GET /v1/extensions``), early-warning alerts and the key-person files of
its area (intake). Actions, each a form with the session's CSRF token, each the API the
integrations use: designate the lead (``POST /v1/whistles/{id}/lead``), decide an
extension (``POST /v1/extensions/{dispatch_id}/decide``), blow a whistle by hand
(``POST /v1/cases/{id}/whistle``), record a 回访 rating taken by phone or at the door
(intake ``POST /v1/cases/{id}/visit-feedback``), mark an alert 已收到 / 已处理 (intake
``POST /v1/alerts/{id}/received|handled``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response

from services.router.pages.workbench.casepage import case_page
from services.router.pages.workbench.pages import back_to, posted, render, uuid_or_none
from services.router.pages.workbench.session import Who
from services.router.pages.workbench.upstream import Answer, Upstream
from shared.auth.keys import Role

router = APIRouter()


async def home(request: Request, who: Who) -> Response:
    async with Upstream(request, who.raw) as api:
        got = await asyncio.gather(
            api.get("router", "/v1/cases", overdue="true", sort="deadline", limit=50),
            api.get("router", "/v1/cases", escalated_to_me="true", sort="deadline", limit=50),
            api.get("escalation", "/v1/whistles", state="open", limit=50),
            api.get("escalation", "/v1/extensions", limit=100),
            api.get("intake", "/v1/alerts", limit=20),
            api.get("intake", "/v1/key-persons", limit=50),
        )
    overdue, escalated, whistles, extensions, alerts, key_persons = got
    context: dict[str, Any] = {
        "overdue": _items(overdue), "escalated": _items(escalated),
        "whistles": whistles.body if whistles.ok else None,
        "extensions": extensions.body if extensions.ok else None,
        "alerts": alerts.body if alerts.ok else None,
        "key_persons": key_persons.body if key_persons.ok else None,
        "titles": await _titles(request, who, whistles, extensions),
    }  # fmt: skip
    return render(request, who, "supervisor.html", context)


def _items(answer: Answer) -> list[dict[str, Any]] | None:
    return answer.body["items"] if answer.ok else None


async def _titles(request: Request, who: Who, *answers: Answer) -> dict[str, dict[str, Any]]:
    """Number and title of the cases the whistles and extension requests are about."""
    ids = {row["case_id"] for a in answers if a.ok for row in a.body}
    async with Upstream(request, who.raw) as api:
        found = await asyncio.gather(*(api.get("router", f"/v1/cases/{i}") for i in ids))
    return {a.body["case_id"]: a.body for a in found if a.ok}


async def _act(request: Request, run: Any, case_field: str = "case_id") -> Response:
    """One supervisor form: CSRF checked, the API called, back to where it was posted
    from, or the case page with the API's reason."""
    got = await posted(request, Role.SUPERVISOR)
    if isinstance(got, Response):
        return got
    who, form = got
    data = await request.form()
    async with Upstream(request, who.raw) as api:
        answer, done = await run(api, form, data)
    if answer.ok:
        back = form.get("back", "")
        return back_to(back if back.startswith("/workbench") else "/workbench", done)
    case_id = uuid_or_none(form.get(case_field))
    if case_id is not None:
        return await case_page(request, who, case_id, answer.reason, answer.status)
    return render(request, who, "refused.html", {"error": answer.reason}, status=answer.status)


@router.post("/whistle")
async def whistle(request: Request) -> Response:
    async def run(api: Upstream, form: dict[str, str], data: Any) -> tuple[Answer, str]:
        body = {"reason": form.get("reason", ""), "convene": data.getlist("convene")}
        return await api.post(
            "router", f"/v1/cases/{uuid_or_none(form.get('case_id'))}/whistle", body
        ), "whistle"

    return await _act(request, run)


@router.post("/lead")
async def lead(request: Request) -> Response:
    async def run(api: Upstream, form: dict[str, str], data: Any) -> tuple[Answer, str]:
        lead_id = form.get("lead_owner_id", "")
        co = [o for o in data.getlist("co_handler_ids") if o != lead_id]
        body = {"lead_owner_id": lead_id, "co_handler_ids": co}
        return await api.post(
            "escalation", f"/v1/whistles/{uuid_or_none(form.get('whistle_id'))}/lead", body
        ), "lead"

    return await _act(request, run)


@router.post("/extension")
async def extension(request: Request) -> Response:
    async def run(api: Upstream, form: dict[str, str], data: Any) -> tuple[Answer, str]:
        approve = form.get("approve") == "yes"
        path = f"/v1/extensions/{uuid_or_none(form.get('dispatch_id'))}/decide"
        return await api.post(
            "escalation", path, {"approve": approve}
        ), "approve" if approve else "refuse"

    return await _act(request, run)


@router.post("/rating")
async def rating(request: Request) -> Response:
    async def run(api: Upstream, form: dict[str, str], data: Any) -> tuple[Answer, str]:
        body = {k: form.get(k, "") for k in ("rating", "method", "comment")}
        path = f"/v1/cases/{uuid_or_none(form.get('case_id'))}/visit-feedback"
        return await api.post("intake", path, body), "rating"

    return await _act(request, run)


@router.post("/alert")
async def alert(request: Request) -> Response:
    async def run(api: Upstream, form: dict[str, str], data: Any) -> tuple[Answer, str]:
        alert_id = uuid_or_none(form.get("alert_id"))
        if form.get("action") == "handled":
            body = {"note": form.get("note", "")}
            return await api.post("intake", f"/v1/alerts/{alert_id}/handled", body), "handled"
        return await api.post("intake", f"/v1/alerts/{alert_id}/received"), "received"

    return await _act(request, run)
