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
from shared.domain.kpis import (
    CaseRow,
    DispatchRow,
    LaterCase,
    Report,
    TimelineRow,
    compute,
    key_person_repeats,
)
from shared.domain.targets import OpenSpan, backlog_at
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
        str(c.case_id), area, c.state, c.category, c.received_at, c.petitioner_ref, c.close_kind,
        c.tier, c.channel, bool(c.key_person),
    )  # fmt: skip


def _dispatch(d: Any) -> DispatchRow:
    return DispatchRow(
        str(d.dispatch_id), str(d.case_id), d.owner_id, d.role, d.state, d.created_at,
        d.resolve_due_at, d.resolved_at, d.acknowledge_due_at, d.acknowledged_at,
    )  # fmt: skip


def _in_area(rows: Any, area: str) -> list[Any]:
    """The rows whose location lies in ``area`` (after the coarse district filter)."""
    out = []
    for c in rows:
        path = next((p for p in reversed(full_paths(c.location).values()) if p), "")
        if within(path, area):
            out.append(c)
    return out


ENDED = frozenset({"returned", "cancelled"})


async def load_backlog(conn: AsyncConnection, window: Window, *, now: datetime) -> tuple[int, int]:
    """积案 in the area at the window's start and at its end (or now, if sooner)."""
    end = min(window.end, now)
    stmt = select(cases.c.case_id, cases.c.location, cases.c.closed_at).where(
        cases.c.received_at < end,
        (cases.c.closed_at.is_(None)) | (cases.c.closed_at > window.start),
    )
    area_filter = _in_district(window.area)
    if area_filter is not None:
        stmt = stmt.where(area_filter)
    rows = _in_area((await conn.execute(stmt)).all(), window.area)
    closed = {str(c.case_id): c.closed_at for c in rows}
    ds = await conn.execute(
        select(dispatches).where(dispatches.c.case_id.in_([c.case_id for c in rows]))
    )
    spans = [
        OpenSpan(str(d.case_id), d.created_at, d.resolve_due_at,
                 d.resolved_at or (d.updated_at if d.state in ENDED else None))
        for d in ds
    ]  # fmt: skip
    return backlog_at(spans, closed, window.start), backlog_at(spans, closed, end)


def year_before(window: Window) -> Window:
    return Window(window.start - YEAR, window.end - YEAR, window.area)


YEAR = timedelta(days=365)


async def key_person_rate(conn: AsyncConnection, window: Window) -> float | None:
    """The key persons' repeat rate (``shared.domain.kpis.key_person_repeats``) in a window."""
    stmt = select(
        cases.c.case_id, cases.c.location, cases.c.petitioner_ref, cases.c.key_person,
        cases.c.received_at, cases.c.state, cases.c.category,
    ).where(cases.c.received_at >= window.start, cases.c.received_at < window.end)  # fmt: skip
    area_filter = _in_district(window.area)
    if area_filter is not None:
        stmt = stmt.where(area_filter)
    rows = _in_area((await conn.execute(stmt)).all(), window.area)
    facts = [
        CaseRow(str(c.case_id), "-", c.state, c.category, c.received_at, c.petitioner_ref,
                key_person=bool(c.key_person))
        for c in rows
    ]  # fmt: skip
    return key_person_repeats(facts)[1]


def _timeline(t: Any) -> TimelineRow:
    dispatch_id = str(t.dispatch_id) if t.dispatch_id else None
    return TimelineRow(str(t.case_id), t.at, t.action, t.detail, dispatch_id)
