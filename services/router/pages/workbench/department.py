"""The department's home: its open dispatches, nearest deadline first, each with a live
countdown (签收 due while pending, 办结 due after), and its recently finished ones. The
actions are on the case page (:mod:`services.router.pages.workbench.acting`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from services.router.pages.workbench.pages import render
from services.router.pages.workbench.session import Who
from services.router.pages.workbench.upstream import Upstream

router = APIRouter()
OPEN = ("pending", "acknowledged", "in_progress")


def due_of(dispatch: dict[str, Any]) -> tuple[str, str]:
    """The deadline that runs now and its name."""
    if dispatch["state"] == "pending":
        return dispatch["acknowledge_due_at"], "签收时限"
    return dispatch["resolve_due_at"], "办结时限"


async def home(request: Request, who: Who) -> Response:
    async with Upstream(request, who.raw) as api:
        mine = await api.get("router", "/v1/dispatches", limit=200)
        listed = await api.get("router", "/v1/cases", limit=200, sort="deadline")
    if not mine.ok:
        return render(request, who, "department.html", {"open": [], "recent": [],
                      "error": mine.reason}, status=mine.status)  # fmt: skip
    cases = {c["case_id"]: c for c in (listed.body or {}).get("items", [])} if listed.ok else {}
    rows = [d | {"case": cases.get(d["case_id"], {}), "due": due_of(d)} for d in mine.body]
    open_rows = sorted((r for r in rows if r["state"] in OPEN), key=lambda r: r["due"][0])
    recent = [r for r in rows if r["state"] not in OPEN][:20]
    return render(request, who, "department.html", {"open": open_rows, "recent": recent})
