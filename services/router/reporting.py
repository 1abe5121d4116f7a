"""The rows the KPIs need, read from the router's tables (the arithmetic is in
``shared.domain.kpis``). Shared by ``GET /v1/reports/kpis`` and the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.router.tables import cases, dispatches, timeline
from shared.domain.calendar import WorkingCalendar
from shared.domain.kpis import CaseRow, DispatchRow, LaterCase, Report, TimelineRow, compute
from shared.domain.taxonomy import LEVELS, Location, within

KPI_ACTIONS = ("progress", "resolve", "close", "closed", "reopen", "reopened")


@dataclass(frozen=True)
class Window:
    """Cases received in ``[start, end)`` inside ``area`` (a location path; "" = the city)."""

    start: datetime
    end: datetime
    area: str = ""

    @property
    def group_level(self) -> str:
        """The level one below ``area``: its children are the rows of the per-area table."""
        depth = len(self.area.split(".")) if self.area else 0
        return LEVELS[min(depth, len(LEVELS) - 1)]


def _in_district(area: str) -> ColumnElement[bool] | None:
    """A coarse SQL filter: the district is the one level stored the same either way (the
    router keeps locations as intake sent them, lower levels often as one-segment codes)."""
    if not area:
        return None
    column: ColumnElement[str] = cases.c.location["district"].astext
    return column == area.split(".")[0]


def full_paths(location: dict[str, Any] | None) -> dict[str, str | None]:
    """Every level as a full path (``d01.s01``), or nothing when the data is not a location."""
    try:
        return Location(**(location or {})).by_level()
    except ValueError:
        return {}


async def load_report(
    conn: AsyncConnection, window: Window, *, now: datetime, calendar: WorkingCalendar
) -> Report:
    stmt = select(cases).where(
        cases.c.received_at >= window.start, cases.c.received_at < window.end
    )
    area_filter = _in_district(window.area)
    if area_filter is not None:
        stmt = stmt.where(area_filter)
    paths = {}
    case_rows = []
    for c in (await conn.execute(stmt)).all():
        paths[c.case_id] = full_paths(c.location)
        path = next((p for p in reversed(paths[c.case_id].values()) if p), "")
        if within(path, window.area):
            case_rows.append(c)
    ids = [c.case_id for c in case_rows]
    ds = (await conn.execute(select(dispatches).where(dispatches.c.case_id.in_(ids)))).all()
    tl = (
        await conn.execute(
            select(timeline).where(timeline.c.case_id.in_(ids), timeline.c.action.in_(KPI_ACTIONS))
        )
    ).all()
    explained = {c.petitioner_ref for c in case_rows if c.close_kind == "explained"} - {None}
    later = (
        await conn.execute(
            select(cases.c.petitioner_ref, cases.c.category, cases.c.received_at).where(
                cases.c.petitioner_ref.in_(explained), cases.c.received_at >= window.start
            )
        )
    ).all()

    def working_days(a: datetime, b: datetime) -> float:
        return calendar.working_time_between(a, b) / timedelta(days=1)

    return compute(
        [_case(c, paths[c.case_id], window.group_level) for c in case_rows],
        [_dispatch(d) for d in ds],
        [_timeline(t) for t in tl],
        [LaterCase(r.petitioner_ref, r.category, r.received_at) for r in later],
        now=now,
        working_days=working_days,
    )


def _case(c: Any, location: dict[str, str | None], level: str) -> CaseRow:
    area = location.get(level) or location.get("district") or "-"
    return CaseRow(
        str(c.case_id), area, c.state, c.category, c.received_at, c.petitioner_ref, c.close_kind
    )


def _dispatch(d: Any) -> DispatchRow:
    return DispatchRow(
        str(d.dispatch_id), str(d.case_id), d.owner_id, d.role, d.state, d.created_at,
        d.resolve_due_at, d.resolved_at,
    )  # fmt: skip


def _timeline(t: Any) -> TimelineRow:
    dispatch_id = str(t.dispatch_id) if t.dispatch_id else None
    return TimelineRow(str(t.case_id), t.at, t.action, t.detail, dispatch_id)
