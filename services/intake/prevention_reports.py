"""每周一上报, 每月一分析, and the summary the router's KPI report reads (issue 23).

Each is a :class:`shared.domain.prevention.Tally` for the area and period, and one per
grid (and per week for the month), with the Chinese names of its numbers (``labels``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.campaigns import visible
from services.intake.key_person_views import person_in_area
from services.intake.prevention_facts import Facts, facts
from services.intake.tables import key_person_conversions, key_persons
from services.intake.tables_prevention import campaigns, patrols
from shared.auth.scope import Area
from shared.domain.calendar import SHANGHAI
from shared.domain.prevention import (
    LABELS,
    PatrolFact,
    Tally,
    coverage,
    coverage_rate,
    grouped,
    monday,
    tally,
)

GRID_DEPTH = 4  # d01.s01.c01.g01


class PeriodReport(BaseModel):
    area: str
    first_day: date
    last_day: date
    labels: dict[str, str] = Field(description="各项的中文名称")
    total: Tally
    by_grid: dict[str, Tally] = Field(description="按网格")
    by_week: dict[str, Tally] = Field(default_factory=dict, description="按周（周一）")
    previous: Tally | None = Field(default=None, description="上一期（环比）")


class CampaignTally(BaseModel):
    started_this_year: int = Field(description="本年已开展专项排查（截至期末）")
    households_to_cover: int
    households_covered: int
    coverage_rate: float | None


class KeyPersonTally(BaseModel):
    """The registry for 矛盾转化: key persons of the area in the registry at some time in the
    period (entered by its end, not left before its start), and how many of them were
    recorded converted (a role begun by the period's end)."""

    in_registry: int
    converted: int


class PreventionSummary(BaseModel):
    area: str
    first_day: date
    last_day: date
    labels: dict[str, str]
    total: Tally
    campaigns: CampaignTally
    key_persons: KeyPersonTally | None = None


def _grid(path: str) -> str:
    return ".".join(path.split(".")[:GRID_DEPTH])


def _by_grid(f: Facts) -> dict[str, Tally]:
    return grouped(f.patrols, f.risks, f.cases, lambda p: _grid(p.path),
                   lambda r: _grid(r.path), lambda c: _grid(c.path))  # fmt: skip


def _by_week(f: Facts) -> dict[str, Tally]:
    return grouped(f.patrols, f.risks, f.cases, lambda p: monday(p.day).isoformat(),
                   lambda r: monday(r.seen_on).isoformat(),
                   lambda c: monday(c.received_on).isoformat())  # fmt: skip


def _total(f: Facts) -> Tally:
    return tally(f.patrols, f.risks, f.cases)


async def weekly(conn: AsyncConnection, where: Area, day: date) -> PeriodReport:
    first = monday(day)
    last = first + timedelta(days=6)
    now, before = (
        await facts(conn, where, first, last),
        await facts(conn, where, first - timedelta(days=7), first - timedelta(days=1)),
    )
    return PeriodReport(area=where.path or "", first_day=first, last_day=last, labels=LABELS,
                        total=_total(now), by_grid=_by_grid(now), previous=_total(before))  # fmt: skip


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


async def monthly(conn: AsyncConnection, where: Area, month: date) -> PeriodReport:
    first, last = month_bounds(month)
    prev_first, prev_last = month_bounds(first - timedelta(days=1))
    now = await facts(conn, where, first, last)
    before = await facts(conn, where, prev_first, prev_last)
    return PeriodReport(area=where.path or "", first_day=first, last_day=last, labels=LABELS,
                        total=_total(now), by_grid=_by_grid(now), by_week=_by_week(now),
                        previous=_total(before))  # fmt: skip


async def summary(
    conn: AsyncConnection, where: Area, start: datetime, end: datetime
) -> PreventionSummary:
    first = start.astimezone(SHANGHAI).date()
    last = (end - timedelta(microseconds=1)).astimezone(SHANGHAI).date()
    counted = await facts(conn, where, first, last)
    return PreventionSummary(
        area=where.path or "", first_day=first, last_day=last, labels=LABELS,
        total=_total(counted), campaigns=await _campaigns(conn, where, first, last),
        key_persons=await _key_persons(conn, where, start, end, last),
    )  # fmt: skip


async def _key_persons(
    conn: AsyncConnection, where: Area, start: datetime, end: datetime, last: date
) -> KeyPersonTally:
    kp, conv = key_persons, key_person_conversions
    rows = await conn.execute(
        select(kp.c.petitioner_ref).where(
            kp.c.entered_at < end, or_(kp.c.left_at.is_(None), kp.c.left_at >= start)
        )
    )
    people = [r for (r,) in rows]
    if not where.unlimited:
        people = [p for p in people if await person_in_area(conn, p, where)]
    converted = set()
    if people:
        found = await conn.execute(
            select(conv.c.petitioner_ref).where(
                conv.c.petitioner_ref.in_(people), conv.c.since <= last
            )
        )
        converted = {r for (r,) in found}
    return KeyPersonTally(in_registry=len(people), converted=len(converted))


async def _campaigns(conn: AsyncConnection, where: Area, first: date, last: date) -> CampaignTally:
    """Campaigns of the area: those started this year (by the period's end) against the
    plan, and the coverage of those overlapping the period."""
    rows = [r for r in (await conn.execute(select(campaigns))).all() if visible(r, where)]
    year = [r for r in rows if r.starts_on.year == last.year and r.starts_on <= last]
    overlapping = [r for r in rows if r.starts_on <= last and r.ends_on >= first]
    covered = []
    for r in overlapping:
        areas = [(a["path"], int(a["households"])) for a in r.areas]
        covered += coverage(areas, await _visits(conn, r), r.starts_on, r.ends_on)
    done, total, rate = coverage_rate(covered)
    return CampaignTally(
        started_this_year=len(year), households_to_cover=total, households_covered=done, coverage_rate=rate,
    )  # fmt: skip


async def _visits(conn: AsyncConnection, row: Any) -> list[PatrolFact]:
    rows = await conn.execute(
        select(
            patrols.c.path, patrols.c.day, patrols.c.worker_id, patrols.c.households_visited
        ).where(patrols.c.day >= row.starts_on, patrols.c.day <= row.ends_on)
    )
    return [PatrolFact(r.path, r.day, r.worker_id, r.households_visited) for r in rows]
