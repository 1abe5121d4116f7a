"""Early warnings and the key-person registry, for supervisors and ops (no raw PII).

A supervisor sees the alerts whose place lies in its area, and the key persons with a case
there (their files list those cases only); another area's key person is 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from services.intake import views
from services.intake.schemas import AlertRead, KeyPersonRead
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import Area, area_of
from shared.web.app import NotFound
from shared.web.fields import PETITIONER_REF
from shared.web.problems import KEYED, NOT_FOUND

router = APIRouter(prefix="/v1", tags=["watch"], responses=KEYED | NOT_FOUND)
WatchKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR)]


@router.get("/alerts", response_model=list[AlertRead], summary="预警列表 (early warnings)")
async def list_alerts(
    key: WatchKey, request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[AlertRead]:
    """Newest first; one alert per (rule, place, window), ``convene`` is the linked handling."""
    async with request.app.state.runtime.engine.connect() as conn:
        return await views.list_alerts(conn, limit=limit, area=_area(request, key))


@router.get("/key-persons", response_model=list[KeyPersonRead], summary="重点人员 (key persons)")
async def list_key_persons(
    key: WatchKey, request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[KeyPersonRead]:
    """一人一档: each key person's cases and their status; phone masked, no name or ID."""
    runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        return await views.key_person_files(
            conn, runtime.deps.vault, limit=limit, area=_area(request, key)
        )


@router.get(
    "/key-persons/{petitioner_ref}",
    response_model=KeyPersonRead,
    summary="重点人员档案 (one key person's file)",
)
async def get_key_person(
    petitioner_ref: Annotated[str, Path(pattern=PETITIONER_REF)], key: WatchKey, request: Request
) -> KeyPersonRead:
    runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        found = await views.key_person_files(
            conn, runtime.deps.vault, ref=petitioner_ref, area=_area(request, key)
        )
    if not found:
        raise NotFound("不是重点人员 (not in the key-person registry)")
    return found[0]


def _area(request: Request, key: ApiKey) -> Area:
    return area_of(key, request.app.state.runtime.deps.owners)
