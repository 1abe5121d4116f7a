"""The case page: the whole case (``GET /v1/cases/{id}`` with the person's key: 404 when
the key may not read it, as the API answers), and the forms this person may use on it:
a department its own dispatches' actions; a supervisor the case's whistles (with who
reported in), its pending extension requests, a hand whistle and a 回访 rating."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

from fastapi import Request, Response

from services.router.pages.workbench.pages import refused, render
from services.router.pages.workbench.session import Who
from services.router.pages.workbench.upstream import Upstream
from shared.auth.keys import Role
from shared.auth.scope import area_of
from shared.domain.taxonomy import within
from shared.domain.triage_rules import matters

RATABLE = ("resolved", "awaiting_feedback")
NOT_YOURS = "诉求不存在，或不是本单位可查看的诉求 (case not found)"


async def case_page(
    request: Request, who: Who, case_id: UUID, error: str | None = None, status: int = 200
) -> Response:
    """The whole case and what the person may do on it (an API refusal shown on top)."""
    async with Upstream(request, who.raw) as api:
        found = await api.get("router", f"/v1/cases/{case_id}")
        if found.status == 404:
            return refused(request, who, NOT_YOURS, 404)
        if not found.ok:
            return refused(request, who, found.reason, found.status)
        extra = await options(request, api, who, found.body)
    context: dict[str, Any] = {"case": found.body, "error": error} | extra
    return render(request, who, "case.html", context, status=status)


async def options(
    request: Request, api: Upstream, who: Who, case: dict[str, Any]
) -> dict[str, Any]:
    """The forms the case page offers this person (and what they need to show)."""
    base: dict[str, Any] = {"idem": secrets.token_urlsafe(12), "mine": [], "whistles": None,
                            "extensions": [], "convenable": [], "can_rate": False}  # fmt: skip
    if who.role is Role.DEPARTMENT:
        base["mine"] = [d for d in case["dispatches"] if d["owner_id"] == who.key.owner_id]
    if who.role is Role.SUPERVISOR:
        base |= await _supervision(request, api, who, case)
    return base


async def _supervision(
    request: Request, api: Upstream, who: Who, case: dict[str, Any]
) -> dict[str, Any]:
    whistles = await api.get("escalation", "/v1/whistles", case_id=case["case_id"])
    pending = await api.get("escalation", "/v1/extensions", case_id=case["case_id"])
    owners = request.app.state.runtime.deps.owners
    area = area_of(who.key, owners)
    convenable = [
        o for o in owners.all()
        if o.id != who.key.owner_id and (area.unlimited or within(o.area, area.path or ""))
    ]  # fmt: skip
    return {
        "whistles": whistles.body if whistles.ok else None,
        "extensions": pending.body if pending.ok else [],
        "convenable": convenable,
        "can_rate": case["state"] in RATABLE,
        "all_categories": list(matters(request.app.state.runtime.deps.rules.categories).items()),
    }
