"""Early warnings and the key-person registry, for supervisors and ops (no raw PII).

A supervisor sees the alerts whose place lies in its area, and the key persons with a case
there (their files list those cases only); another area's key person is 404."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from services.intake import key_person_views, registry, views
from services.intake.key_person_schemas import ConversionRead, KeyPersonRead
from services.intake.schemas import AlertRead
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import Area, area_of
from shared.domain.errors import NotFound
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
    key: WatchKey,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    state: Annotated[
        Literal["active", "left", "all"], Query(description="在库 / 已出库 / 全部")
    ] = "active",
    review_due: Annotated[
        bool, Query(description="只列到期待复核的（在库、复核日期不晚于今天），最早到期在前")
    ] = False,
) -> list[KeyPersonRead]:
    """一人一档: each key person's cases and their status; phone masked, no name or ID."""
    runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        return await key_person_views.list_files(
            conn, runtime.deps.vault, limit=limit, area=_area(request, key),
            today=registry.local_day(runtime.clock.now()), state=state, due=review_due,
        )  # fmt: skip


@router.get(
    "/key-persons/{petitioner_ref}",
    response_model=KeyPersonRead,
    summary="重点人员档案 (one key person's file)",
)
async def get_key_person(
    petitioner_ref: Annotated[str, Path(pattern=PETITIONER_REF)], key: WatchKey, request: Request
) -> KeyPersonRead:
    """Any of the person's refs names them; the file holds their plan, visits,
    conversions, history and cases (of every ref linked to them)."""
    runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        found = await key_person_views.one_file(
            conn, runtime.deps.vault, petitioner_ref, area=_area(request, key),
            today=registry.local_day(runtime.clock.now()),
        )  # fmt: skip
    if found is None:
        raise NotFound("不是重点人员 (not in the key-person registry)")
    return found


@router.get(
    "/key-person-conversions",
    response_model=list[ConversionRead],
    summary="矛盾转化记录 (conversions of key persons)",
)
async def list_conversions(
    key: WatchKey,
    request: Request,
    since: Annotated[date | None, Query(description="起始日期（含）")] = None,
    until: Annotated[date | None, Query(description="截止日期（含）")] = None,
) -> list[ConversionRead]:
    """One row per (person, role, date the role began): what the conversion KPI counts.
    A supervisor sees the persons with a case in its area."""
    runtime = request.app.state.runtime
    area = _area(request, key)
    async with runtime.engine.connect() as conn:
        rows = await key_person_views.conversions(conn, None, since=since, until=until)
        if area.unlimited:
            return rows
        return [
            r for r in rows if await key_person_views.person_in_area(conn, r.petitioner_ref, area)
        ]


def _area(request: Request, key: ApiKey) -> Area:
    return area_of(key, request.app.state.runtime.deps.owners)
