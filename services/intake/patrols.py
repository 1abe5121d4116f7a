"""Grid workers and their daily patrols (每日一巡查), stored in intake.

A patrol is one worker's round of one grid on one Shanghai day (the natural key): sent
again with the same body it answers the first record (200), with another body 409. Its
on-site mediations may name the ``grid_patrol`` cases the worker submitted closed as
``mediated_on_site``; such a case is that mediation, so it is counted once (see
:mod:`shared.domain.prevention`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.campaigns import campaign_exists
from services.intake.schemas_prevention import (
    GridWorkerPut,
    GridWorkerRead,
    PatrolCreate,
    PatrolRead,
)
from services.intake.tables import cases
from services.intake.tables_prevention import grid_workers, patrols
from shared.domain.errors import Conflict, Invalid
from shared.ids import new_id


async def put_worker(
    conn: AsyncConnection, worker_id: str, body: GridWorkerPut, actor: str
) -> tuple[GridWorkerRead, bool]:
    """Create or update a grid worker; True when created."""
    values = {"name": body.name, "path": body.grid, "updated_by": actor}
    stmt = pg_insert(grid_workers).values(worker_id=worker_id, **values)
    row = (
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[grid_workers.c.worker_id], set_=values | {"updated_at": func.now()}
            ).returning(
                *grid_workers.c,
                (grid_workers.c.created_at == grid_workers.c.updated_at).label("new"),
            )
        )
    ).one()
    return worker_read(row), bool(row.new)


def worker_read(row: Row[Any]) -> GridWorkerRead:
    return GridWorkerRead(worker_id=row.worker_id, name=row.name, grid=row.path,
                          updated_at=row.updated_at)  # fmt: skip


async def worker(conn: AsyncConnection, worker_id: str) -> Row[Any] | None:
    return (
        await conn.execute(select(grid_workers).where(grid_workers.c.worker_id == worker_id))
    ).first()


async def known_worker(conn: AsyncConnection, worker_id: str) -> Row[Any]:
    found = await worker(conn, worker_id)
    if found is None:
        raise Invalid(f"网格员 {worker_id} 未登记 (unknown grid worker)")
    return found


async def check_patrol(conn: AsyncConnection, body: PatrolCreate) -> str:
    """The grid patrolled (the worker's own unless named); 422 for what does not exist."""
    who = await known_worker(conn, body.worker_id)
    if body.campaign_id and not await campaign_exists(conn, body.campaign_id):
        raise Invalid(f"专项排查 {body.campaign_id} 不存在 (unknown campaign)")
    linked = [m.case_id for m in body.mediations if m.case_id]
    if linked:
        rows = await conn.execute(
            select(cases.c.case_id).where(
                cases.c.case_id.in_(linked),
                cases.c.channel == "grid_patrol",
                cases.c.status_detail["close_kind"].astext == "mediated_on_site",
            )
        )
        missing = set(linked) - set(rows.scalars())
        if missing:
            raise Invalid(
                f"诉求 {', '.join(sorted(map(str, missing)))} 不是网格巡查当场调解的诉求 "
                "(not a grid_patrol case mediated on site)",
            )
    return body.grid or str(who.path)


async def record_patrol(
    conn: AsyncConnection, body: PatrolCreate, grid: str, *, fingerprint: str, actor: str,
    now: datetime,
) -> tuple[PatrolRead, bool]:  # fmt: skip
    """The patrol stored, True when new; a replay answers the first record, another body 409."""
    values = {
        "patrol_id": new_id(), "worker_id": body.worker_id, "path": grid, "day": body.day,
        "households_visited": body.households_visited, "minutes": body.minutes,
        "campaign_id": body.campaign_id, "fingerprint": fingerprint,
        "findings": [f.model_dump(mode="json") for f in body.findings],
        "mediations": [m.model_dump(mode="json") for m in body.mediations],
        "recorded_by": actor, "recorded_at": now,
    }  # fmt: skip
    stmt = pg_insert(patrols).values(**values).on_conflict_do_nothing().returning(*patrols.c)
    row = (await conn.execute(stmt)).first()
    if row is not None:
        return patrol_read(row), True
    first = (
        await conn.execute(
            select(patrols).where(
                patrols.c.worker_id == body.worker_id,
                patrols.c.path == grid,
                patrols.c.day == body.day,
            )
        )
    ).one()
    if first.fingerprint != fingerprint:
        raise Conflict(
            f"网格员 {body.worker_id} {body.day} 已登记该网格的巡查，内容不同 (already recorded)",
        )
    return patrol_read(first), False


def patrol_read(row: Row[Any]) -> PatrolRead:
    return PatrolRead(
        patrol_id=row.patrol_id, worker_id=row.worker_id, grid=row.path, day=row.day,
        households_visited=row.households_visited, minutes=row.minutes,
        campaign_id=row.campaign_id, findings=row.findings, mediations=row.mediations,
        recorded_by=row.recorded_by, recorded_at=row.recorded_at,
    )  # fmt: skip


async def patrol_by_id(conn: AsyncConnection, patrol_id: UUID) -> Row[Any] | None:
    return (await conn.execute(select(patrols).where(patrols.c.patrol_id == patrol_id))).first()
