"""The rows prevention reports count, read for one area and period (the counting is
:mod:`shared.domain.prevention`'s)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.tables import cases
from services.intake.tables_prevention import patrols, risks
from shared.auth.scope import Area, location_path
from shared.domain.calendar import SHANGHAI
from shared.domain.prevention import CaseFact, PatrolFact, RiskFact


@dataclass(frozen=True)
class Facts:
    patrols: list[PatrolFact]
    risks: list[RiskFact]
    cases: list[CaseFact]


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=SHANGHAI)


async def facts(conn: AsyncConnection, where: Area, first: date, last: date) -> Facts:
    """Patrols and risks of the Shanghai days ``first``..``last``, and the cases received
    in them, inside ``where``."""
    return Facts(
        await _patrols(conn, where, first, last),
        await _risks(conn, where, first, last),
        await _cases(conn, where, day_start(first), day_start(last + timedelta(days=1))),
    )


async def _patrols(conn: AsyncConnection, where: Area, first: date, last: date) -> list[PatrolFact]:
    rows = await conn.execute(
        select(patrols).where(
            in_area(patrols.c.path, where), patrols.c.day >= first, patrols.c.day <= last
        )
    )
    return [_patrol(r) for r in rows]


def _patrol(r: Any) -> PatrolFact:
    return PatrolFact(
        r.path, r.day, r.worker_id, r.households_visited, r.minutes or 0,
        tuple(f.get("category") for f in r.findings),
        sum(1 for m in r.mediations if not m.get("case_id")), r.campaign_id,
    )  # fmt: skip


async def _risks(conn: AsyncConnection, where: Area, first: date, last: date) -> list[RiskFact]:
    rows = await conn.execute(
        select(risks.c.path, risks.c.seen_on, risks.c.state, risks.c.category,
               risks.c.campaign_id)
        .where(in_area(risks.c.path, where), risks.c.seen_on >= first, risks.c.seen_on <= last)
    )  # fmt: skip
    return [RiskFact(r.path, r.seen_on, r.state, r.category, r.campaign_id) for r in rows]


async def _cases(
    conn: AsyncConnection, where: Area, start: datetime, end: datetime
) -> list[CaseFact]:
    from_risk = exists().where(risks.c.case_id == cases.c.case_id)
    stmt = select(
        cases.c.location, cases.c.received_at, cases.c.channel,
        cases.c.status_detail["close_kind"].astext.label("close_kind"),
        from_risk.label("from_risk"), cases.c.campaign_id,
    ).where(cases.c.received_at >= start, cases.c.received_at < end)  # fmt: skip
    if where.path and where.known:
        stmt = stmt.where(cases.c.location["district"].astext == where.path.split(".")[0])
    out = []
    for r in await conn.execute(stmt):
        path = location_path(r.location) or ""
        if where.covers(path) or (where.unlimited and not path):
            out.append(
                CaseFact(
                    path,
                    r.received_at.astimezone(SHANGHAI).date(),
                    r.channel,
                    r.close_kind,
                    bool(r.from_risk),
                    r.campaign_id,
                )
            )
    return out


def in_area(column: ColumnElement[str], where: Area) -> ColumnElement[bool]:
    """SQL: the path column lies in the area (paths are dotted lower-case codes)."""
    if where.unlimited:
        return true()
    if not where.known or where.path is None:
        return false()
    return or_(column == where.path, column.like(where.path + ".%"))
