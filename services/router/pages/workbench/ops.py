"""Ops' home: service health (each service's ``/readyz``), the queues with their dead
letters (``GET /v1/reports/queues``), and the deliveries that did not go through
(notifier ``GET /v1/deliveries``) with replay (``POST /v1/deliveries/{id}/replay``:
admin only over HTTP, so an ops key gets the API's 403 reason). Each service's dead letters
(``GET /v1/dead-letters/{service}``) with replay (``POST …/replay``, admin only too)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response

from services.router.pages.workbench.pages import back_to, posted, render, uuid_or_none
from services.router.pages.workbench.session import Who
from services.router.pages.workbench.upstream import SERVICES, Answer, Service, Upstream
from shared.auth.keys import Role

router = APIRouter()
UNDELIVERED = ("failed", "retrying", "pending")


async def home(request: Request, who: Who, error: str | None = None, status: int = 200) -> Response:
    async with Upstream(request, who.raw) as api:
        health = await asyncio.gather(*(api.get(s, "/readyz") for s in SERVICES))
        queues, deliveries, *dead = await asyncio.gather(
            api.get("router", "/v1/reports/queues"),
            api.get("notifier", "/v1/deliveries", limit=200),
            *(api.get("router", f"/v1/dead-letters/{s}") for s in SERVICES),
        )
    context: dict[str, Any] = {
        "health": list(zip(SERVICES, health, strict=True)),
        "queues": _queues(queues),
        "deliveries": _undelivered(deliveries),
        "no_endpoint": sum(1 for d in deliveries.body or [] if d["status"] == "no_endpoint")
        if deliveries.ok
        else 0,
        "dead_letters": [
            (s, a.body if a.ok else None) for s, a in zip(SERVICES, dead, strict=True)
        ],
        "error": error,
    }
    return render(request, who, "ops.html", context, status=status)


def _queues(answer: Answer) -> list[dict[str, Any]] | None:
    if not answer.ok:
        return None
    rows: list[dict[str, Any]] = answer.body if isinstance(answer.body, list) else []
    return rows


def _undelivered(answer: Answer) -> list[dict[str, Any]] | None:
    if not answer.ok:
        return None
    return [d for d in answer.body if d["status"] not in ("delivered", "no_endpoint")][:50]


@router.post("/replay")
async def replay(request: Request) -> Response:
    got = await posted(request, Role.OPS)
    if isinstance(got, Response):
        return got
    who, form = got
    delivery = uuid_or_none(form.get("delivery_id"))
    async with Upstream(request, who.raw) as api:
        answer = await api.post("notifier", f"/v1/deliveries/{delivery}/replay")
    if not answer.ok:
        return await home(request, who, answer.reason, answer.status)
    return back_to("/workbench", "replay")


@router.post("/dead-letters")
async def replay_dead_letters(request: Request) -> Response:
    got = await posted(request, Role.OPS)
    if isinstance(got, Response):
        return got
    who, form = got
    service: Service | None = next((s for s in SERVICES if s == form.get("service")), None)
    async with Upstream(request, who.raw) as api:
        answer = await api.post("router", f"/v1/dead-letters/{service}/replay", {"limit": 100})
    if not answer.ok:
        return await home(request, who, answer.reason, answer.status)
    return back_to("/workbench", "dead_letters")
