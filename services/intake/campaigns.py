"""Quarterly campaigns (专项排查): a theme, a period, and the households each area is to
cover. Coverage counts the patrols in the campaign's areas during its period
(:func:`shared.domain.prevention.coverage`); findings, risks and cases are tagged with
the campaign's id."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.schemas_prevention import AreaCoverageRead, CampaignPut, CampaignRead
from services.intake.tables import cases
from services.intake.tables_prevention import campaigns, patrols, risks
from shared.auth.scope import Area
from shared.domain.prevention import PatrolFact, coverage, coverage_rate
from shared.domain.taxonomy import within


async def campaign_exists(conn: AsyncConnection, campaign_id: str) -> bool:
    found = await conn.scalar(
        select(campaigns.c.campaign_id).where(campaigns.c.campaign_id == campaign_id)
    )
    return found is not None


async def put_campaign(
    conn: AsyncConnection, campaign_id: str, body: CampaignPut, actor: str
) -> bool:
    """Create or replace; True when created."""
    values = {
        "theme": body.theme, "starts_on": body.starts_on, "ends_on": body.ends_on,
        "areas": [a.model_dump() for a in body.areas], "updated_by": actor,
    }  # fmt: skip
    stmt = pg_insert(campaigns).values(campaign_id=campaign_id, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[campaigns.c.campaign_id], set_=values | {"updated_at": func.now()}
    )
    row = (
        await conn.execute(stmt.returning(campaigns.c.created_at == campaigns.c.updated_at))
    ).one()
    return bool(row[0])


def visible(row: Row[Any], where: Area) -> bool:
    """A campaign is an area's when one of its areas lies in it, or it lies in one of them."""
    if where.unlimited:
        return True
    mine = where.path if where.known else None
    return mine is not None and any(
        within(a["path"], mine) or within(mine, a["path"]) for a in row.areas
    )


async def list_campaigns(
    conn: AsyncConnection, where: Area, *, year: int | None = None
) -> list[CampaignRead]:
    stmt = select(campaigns).order_by(campaigns.c.starts_on, campaigns.c.campaign_id)
    if year is not None:
        stmt = stmt.where(func.extract("year", campaigns.c.starts_on) == year)
    rows = [r for r in (await conn.execute(stmt)).all() if visible(r, where)]
    return [await campaign_read(conn, r) for r in rows]


async def one_campaign(conn: AsyncConnection, campaign_id: str) -> Row[Any] | None:
    return (
        await conn.execute(select(campaigns).where(campaigns.c.campaign_id == campaign_id))
    ).first()


async def campaign_read(conn: AsyncConnection, row: Row[Any]) -> CampaignRead:
    areas = [(a["path"], int(a["households"])) for a in row.areas]
    visits = await _patrols_between(conn, row.starts_on, row.ends_on)
    covered = coverage(areas, visits, row.starts_on, row.ends_on)
    done, total, rate = coverage_rate(covered)
    tagged = await _tagged(conn, row.campaign_id)
    return CampaignRead(
        campaign_id=row.campaign_id, theme=row.theme, starts_on=row.starts_on,
        ends_on=row.ends_on, households_to_cover=total, households_covered=done,
        coverage_rate=rate,
        areas=[AreaCoverageRead(path=a.path, households=a.households, visited=a.visited,
                                covered=a.covered) for a in covered],
        **tagged,
    )  # fmt: skip


async def _patrols_between(conn: AsyncConnection, start: date, end: date) -> list[PatrolFact]:
    rows = await conn.execute(
        select(
            patrols.c.path, patrols.c.day, patrols.c.worker_id, patrols.c.households_visited
        ).where(patrols.c.day >= start, patrols.c.day <= end)
    )
    return [PatrolFact(r.path, r.day, r.worker_id, r.households_visited) for r in rows]


async def _tagged(conn: AsyncConnection, campaign_id: str) -> dict[str, int]:
    found = await conn.scalar(
        select(func.coalesce(func.sum(func.jsonb_array_length(patrols.c.findings)), 0)).where(
            patrols.c.campaign_id == campaign_id
        )
    )
    risky = await conn.scalar(
        select(func.count()).select_from(risks).where(risks.c.campaign_id == campaign_id)
    )
    tagged = await conn.scalar(
        select(func.count()).select_from(cases).where(cases.c.campaign_id == campaign_id)
    )
    return {"findings": int(found or 0), "risks": int(risky or 0), "cases": int(tagged or 0)}
