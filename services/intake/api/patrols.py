"""Grid workers, their daily patrols, and the reports the community opens:
每周一上报 (``/v1/reports/patrols/weekly``), 每月一分析 (``/v1/reports/patrols/monthly``)
and the prevention summary the router's KPI report reads (``/v1/reports/prevention``).
Who may write and read: :mod:`services.intake.api.prevention_access`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from sqlalchemy import select

from services.intake import patrols as service
from services.intake.api.prevention_access import (
    FieldKey,
    OfficeKey,
    ReaderKey,
    area,
    check_field_key,
    check_writes_at,
    fingerprint,
    report_area,
    today,
)
from services.intake.prevention_facts import in_area
from services.intake.prevention_reports import (
    PeriodReport,
    PreventionSummary,
    monthly,
    summary,
    weekly,
)
from services.intake.schemas_prevention import (
    GridWorkerPut,
    GridWorkerRead,
    PatrolCreate,
    PatrolRead,
)
from services.intake.tables_prevention import grid_workers, patrols
from shared.auth import audit
from shared.web.problems import BODY, CONFLICT, INVALID, KEYED

router = APIRouter(prefix="/v1", tags=["prevention"], responses=KEYED | INVALID)
WORKER = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
AREA = Annotated[str, Query(max_length=128, description="区域路径，如 d01.s01.c01；默认本单位辖区")]


@router.put("/grid-workers/{worker_id}", response_model=GridWorkerRead,
            summary="登记网格员 (register a grid worker)", responses=BODY)  # fmt: skip
async def put_grid_worker(
    worker_id: WORKER, body: GridWorkerPut, key: OfficeKey, request: Request, response: Response
) -> GridWorkerRead:
    """Create or update (201 when new); a supervisor registers workers of grids in its area."""
    check_writes_at(request, key, body.grid)
    async with request.app.state.runtime.engine.begin() as conn:
        before = await service.worker(conn, worker_id)
        if before is not None:
            check_writes_at(request, key, before.path)
        read, created = await service.put_worker(conn, worker_id, body, key.actor)
        await audit.record(conn, key, "grid_worker.put", worker_id=worker_id, grid=body.grid)
    response.status_code = 201 if created else 200
    return read


@router.get("/grid-workers", response_model=list[GridWorkerRead], summary="网格员 (grid workers)")
async def list_grid_workers(key: ReaderKey, request: Request) -> list[GridWorkerRead]:
    stmt = select(grid_workers).where(in_area(grid_workers.c.path, area(request, key)))
    async with request.app.state.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(stmt.order_by(grid_workers.c.path, grid_workers.c.worker_id))
        ).all()
    return [service.worker_read(r) for r in rows]


@router.post("/patrols", response_model=PatrolRead, status_code=201,
             summary="登记每日巡查 (record a day's patrol)",
             responses=BODY | CONFLICT | {200: {"description": "重复提交：返回第一次的记录"}})  # fmt: skip
async def post_patrol(
    body: PatrolCreate, key: FieldKey, request: Request, response: Response
) -> PatrolRead:
    """One worker, one grid, one day: the same again answers 200, another body 409."""
    check_field_key(key)
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        grid = await service.check_patrol(conn, body)
        check_writes_at(request, key, grid)
        read, created = await service.record_patrol(
            conn,
            body,
            grid,
            fingerprint=fingerprint(body),
            actor=key.actor,
            now=runtime.clock.now(),
        )
        if created:
            await audit.record(conn, key, "patrol.record", patrol_id=str(read.patrol_id), grid=grid)
    if not created:
        response.status_code = 200
    return read


@router.get("/patrols", response_model=list[PatrolRead], summary="巡查记录 (patrol log)")
async def list_patrols(
    key: ReaderKey,
    request: Request,
    start: Annotated[date | None, Query(alias="from", description="起（含），默认 7 天前")] = None,
    end: Annotated[date | None, Query(alias="to", description="止（含），默认今天")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[PatrolRead]:
    last = end or today(request)
    first = start or last - timedelta(days=7)
    stmt = (
        select(patrols)
        .where(
            in_area(patrols.c.path, area(request, key)),
            patrols.c.day >= first,
            patrols.c.day <= last,
        )
        .order_by(patrols.c.day.desc(), patrols.c.path, patrols.c.worker_id)
        .limit(limit)
    )
    async with request.app.state.runtime.engine.connect() as conn:
        return [service.patrol_read(r) for r in (await conn.execute(stmt)).all()]


@router.get("/reports/patrols/weekly", response_model=PeriodReport,
            summary="每周一上报 (the week's patrols, per grid)")  # fmt: skip
async def weekly_report(
    key: ReaderKey,
    request: Request,
    week: Annotated[date | None, Query(description="该周任一天，默认本周")] = None,
    area_: Annotated[str, Query(alias="area", max_length=128)] = "",
) -> PeriodReport:
    where = report_area(request, key, area_)
    async with request.app.state.runtime.engine.connect() as conn:
        return await weekly(conn, where, week or today(request))


@router.get("/reports/patrols/monthly", response_model=PeriodReport,
            summary="每月一分析 (the month's patrols, per grid and week)")  # fmt: skip
async def monthly_report(
    key: ReaderKey,
    request: Request,
    month: Annotated[
        str | None, Query(pattern=r"^\d{4}-\d{2}$", description="如 2026-12，默认本月")
    ] = None,
    area_: Annotated[str, Query(alias="area", max_length=128)] = "",
) -> PeriodReport:
    where = report_area(request, key, area_)
    try:
        first = date.fromisoformat(f"{month}-01") if month else today(request)
    except ValueError as exc:
        raise HTTPException(422, f"月份无效 (bad month): {month}") from exc
    async with request.app.state.runtime.engine.connect() as conn:
        return await monthly(conn, where, first)


@router.get("/reports/prevention", response_model=PreventionSummary,
            summary="源头预防汇总 (prevention counts for the KPI report)")  # fmt: skip
async def prevention_summary(
    key: ReaderKey,
    request: Request,
    start: Annotated[datetime, Query(alias="from", description="起 (ISO 8601，带时区)")],
    end: Annotated[datetime, Query(alias="to", description="止（不含）")],
    area_: Annotated[str, Query(alias="area", max_length=128)] = "",
) -> PreventionSummary:
    """Patrols, on-site mediations (patrols' and mediated cases'), risks, petitions and the
    share settled at the root, and the campaigns: the numbers the router cannot see."""
    if start.tzinfo is None or end.tzinfo is None or start >= end:
        raise HTTPException(422, "起止时间须带时区且起早于止 (from/to: aware datetimes, from < to)")
    if not 2000 <= start.year <= 2100 or not 2000 <= end.year <= 2100:
        raise HTTPException(422, "起止时间须在 2000–2100 年之间 (from/to years 2000-2100)")
    where = report_area(request, key, area_)
    async with request.app.state.runtime.engine.connect() as conn:
        return await summary(conn, where, start, end)
