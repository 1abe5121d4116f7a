"""KPIs for ops and supervisors: ``GET /v1/reports/kpis?from=&to=&area=``.

Definitions and approximations are in ``shared/domain/kpis.py``. The window selects cases
by when they were received; ``area`` is a location path prefix (``d01.s01``), and the
per-area table has one row per child of it (per district when absent). A supervisor's
report is of its own area (absent ``area``) or a part of it; another area is 403. The
queues are ops data of no area: ops and admin only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from services.router import plan_report, sources
from services.router.reporting import (
    Window,
    key_person_rate,
    load_backlog,
    load_report,
    year_before,
)
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import OUT_OF_AREA, area_of
from shared.domain.kpis import Kpis, Report
from shared.domain.targets import Goal
from shared.domain.taxonomy import path_problem
from shared.web.problems import KEYED, Problem

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=KEYED)
ReaderKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR)]
OpsKey = Annotated[ApiKey, require(Role.OPS)]
DEFAULT_DAYS = 30
# Bounds on from/to: far dates overflow datetime arithmetic (year 1 minus 30 days was a 500).
MIN_YEAR, MAX_YEAR = 2000, 2100


class BacklogChange(BaseModel):
    """积案: cases held past a resolve due time, at the window's start and end (or now)."""

    at_start: int
    at_end: int
    change: int


class KpiReport(BaseModel):
    start: datetime
    end: datetime
    area: str
    now: datetime
    group_level: str
    targets: dict[str, Goal] = Field(
        description="考核目标：值、目标、是否达成（met: null 为无数据）"
    )
    total: Kpis
    by_area: dict[str, Kpis]
    by_owner: dict[str, Kpis]
    by_tier: dict[str, Kpis] = {}
    by_channel: dict[str, Kpis] = {}
    by_category: dict[str, Kpis] = {}
    cases_per_day: dict[date, int]
    by_week: dict[date, Kpis] = {}
    backlog: BacklogChange
    key_person_repeat_rate_last_year: float | None = None
    prevention: dict[str, Any] | None = Field(
        default=None, description="受理服务的巡查、当场调解、隐患与专项排查汇总（不可达时为空）"
    )


def window_of(now: datetime, start: datetime | None, end: datetime | None, area: str) -> Window:
    """The window asked for (default: the last 30 days up to now); 422 when it is wrong."""
    problem = path_problem(area) if area else None
    if problem:
        raise HTTPException(422, f"区域路径无效 (bad area): {problem}")
    if any(d is not None and not MIN_YEAR <= d.year <= MAX_YEAR for d in (start, end)):
        raise HTTPException(
            422, f"起止时间须在 {MIN_YEAR}–{MAX_YEAR} 年之间 (from/to years {MIN_YEAR}-{MAX_YEAR})"
        )
    end = end or now
    start = start or end - timedelta(days=DEFAULT_DAYS)
    if start.tzinfo is None or end.tzinfo is None or start >= end:
        raise HTTPException(422, "起止时间须带时区且起早于止 (from/to: aware datetimes, from < to)")
    return Window(start, end, area)


def scoped(request: Request, key: ApiKey, window: Window) -> Window:
    """A supervisor's report covers its own area (the default) or a part of it; 403 else."""
    area = area_of(key, request.app.state.runtime.deps.owners).report_area(window.area)
    if area is None:
        raise HTTPException(403, f"区域 {window.area or '全市'} {OUT_OF_AREA}")
    return Window(window.start, window.end, area)


async def report_for(request: Request, window: Window, bearer: str | None) -> KpiReport:
    """``bearer``: the caller's key, with which intake's prevention counts are read."""
    runtime = request.app.state.runtime
    now = runtime.clock.now()
    async with runtime.engine.connect() as conn:
        report: Report = await load_report(conn, window, now=now, calendar=runtime.deps.calendar)
        start, end = await load_backlog(conn, window, now=now)
        last_year = await key_person_rate(conn, year_before(window))
    counts = await plan_report.prevention(runtime.settings, bearer, window)
    targets = plan_report.targets_for(runtime.settings)
    return KpiReport(
        start=window.start, end=window.end, area=window.area, now=now,
        group_level=window.group_level, total=report.total,
        targets=plan_report.goals(targets, report.total, counts, last_year=last_year, window=window),
        by_area=report.by_area, by_owner=report.by_owner, by_tier=report.by_tier,
        by_channel=report.by_channel, by_category=report.by_category,
        cases_per_day=report.cases_per_day, by_week=report.by_week,
        backlog=BacklogChange(at_start=start, at_end=end, change=end - start),
        key_person_repeat_rate_last_year=last_year, prevention=counts,
    )  # fmt: skip


def bearer_of(request: Request) -> str | None:
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    return raw if scheme.lower() == "bearer" and raw else None


@router.get("/kpis", response_model=KpiReport, summary="考核指标 (KPIs per area and owner)")
async def kpis(
    key: ReaderKey,
    request: Request,
    start: Annotated[
        datetime | None, Query(alias="from", description="受理时间起 (ISO 8601)")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="受理时间止（不含）")] = None,
    area: Annotated[str, Query(max_length=128, description="区域路径前缀，如 d01.s01")] = "",
) -> KpiReport:
    now = request.app.state.runtime.clock.now()
    window = scoped(request, key, window_of(now, start, end, area))
    return await report_for(request, window, bearer_of(request))


class QueueRead(BaseModel):
    name: str
    ready: int
    unacked: int
    consumers: int
    publish_rate: float
    deliver_rate: float
    dead_letter: bool


@router.get(
    "/queues",
    response_model=list[QueueRead],
    summary="队列深度与速率 (queues, from RabbitMQ's management API)",
    responses={
        503: {"model": Problem, "description": "管理接口不可达 (management API unreachable)"}
    },
)
async def queues(key: OpsKey, request: Request) -> list[QueueRead]:
    """The broker's queues: system data of no area, for ops and admin only."""
    src = sources.Sources.from_env(request.app.state.runtime.settings)
    async with httpx.AsyncClient() as http:
        rows = await sources.queues(http, src)
    if rows is None:
        raise HTTPException(503, "RabbitMQ 管理接口不可达 (management API unreachable)")
    return [
        QueueRead(
            name=q.name, ready=q.ready, unacked=q.unacked, consumers=q.consumers,
            publish_rate=q.publish_rate, deliver_rate=q.deliver_rate, dead_letter=q.is_dead_letter,
        )
        for q in rows
    ]  # fmt: skip
