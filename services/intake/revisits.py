"""回头看: a return visit to each explained closure (解释结案) after
``revisit_after_days`` (config/alerts.yaml), by the community office of its area.

Due: closed as ``explained`` at least that many days ago and not visited yet. A visit is
recorded once per closure (the natural key: a repeat with the same body answers the first
record, another body 409). A visit that finds the matter alive opens a new case through
intake's own submission path, as the petitioner's own (their contact as given with the
closed case), in its category and place, on the ``grid_patrol`` channel with
``external_id`` ``revisit-<case id>``, and marked a rebound (回弹) of the closure, which
the router writes on its timeline as for any rebound.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.schemas import CaseCreate, PetitionerIn
from services.intake.schemas_prevention import RevisitCreate, RevisitDue, RevisitRead
from services.intake.tables import cases, petitioners
from services.intake.tables_prevention import revisits
from shared.auth.scope import Area, location_path
from shared.domain.calendar import SHANGHAI
from shared.domain.errors import Conflict, NotFound
from shared.security.pii import PiiVault

SCAN = 5000  # explained closures read per listing before the area filter
_EXPLAINED = (cases.c.status == "closed") & (
    cases.c.status_detail["close_kind"].astext == "explained"
)


async def due(
    conn: AsyncConnection, where: Area, *, now: datetime, after_days: int, limit: int
) -> list[RevisitDue]:
    """Explained closures of the area whose visit is due by ``now``, oldest first."""
    visited = select(revisits.c.case_id).where(revisits.c.case_id == cases.c.case_id)
    rows = await conn.execute(
        select(cases.c.case_id, cases.c.case_number, cases.c.category, cases.c.title,
               cases.c.location, cases.c.status_at)
        .where(_EXPLAINED, cases.c.status_at <= now - timedelta(days=after_days),
               ~visited.exists())
        .order_by(cases.c.status_at).limit(SCAN)
    )  # fmt: skip
    out = []
    for r in rows:
        path = location_path(r.location)
        if where.covers(path) or where.unlimited:
            out.append(_due(r, path, after_days))
    return out[:limit]


def _due(r: Any, path: str | None, after_days: int) -> RevisitDue:
    closed_on: date = r.status_at.astimezone(SHANGHAI).date()
    return RevisitDue(
        case_id=r.case_id, case_number=r.case_number, category=r.category, title=r.title,
        path=path, closed_at=r.status_at, due_on=closed_on + timedelta(days=after_days),
    )  # fmt: skip


async def closure(conn: AsyncConnection, case_id: UUID, where: Area) -> Row[Any]:
    """The closed case; 404 unknown or outside the area, 409 when it was not explained."""
    row = (await conn.execute(select(cases).where(cases.c.case_id == case_id))).first()
    if row is None or not (where.unlimited or where.covers(location_path(row.location))):
        raise NotFound("诉求不存在 (case not found)")
    if row.status != "closed" or (row.status_detail or {}).get("close_kind") != "explained":
        raise Conflict(
            "只有以「解释结案」关闭的诉求需要回头看 (only explained closures are revisited)"
        )
    return row


async def recorded(conn: AsyncConnection, case_id: UUID) -> Row[Any] | None:
    return (await conn.execute(select(revisits).where(revisits.c.case_id == case_id))).first()


def replay(row: Row[Any], fingerprint: str) -> RevisitRead:
    if row.fingerprint != fingerprint:
        raise Conflict("该诉求已记录回头看，内容不同 (already revisited)")
    return revisit_read(row)


def revisit_read(row: Row[Any]) -> RevisitRead:
    return RevisitRead(case_id=row.case_id, outcome=row.outcome, method=row.method,
                       note=row.note, rebound_case_id=row.rebound_case_id,
                       recorded_at=row.recorded_at)  # fmt: skip


async def record(
    conn: AsyncConnection, case_id: UUID, body: RevisitCreate, *, rebound: UUID | None,
    fingerprint: str, actor: str, now: datetime,
) -> tuple[RevisitRead, bool]:  # fmt: skip
    stmt = pg_insert(revisits).values(
        case_id=case_id, outcome=body.outcome, method=body.method, note=body.note,
        rebound_case_id=rebound, fingerprint=fingerprint, recorded_by=actor, recorded_at=now,
    ).on_conflict_do_nothing().returning(*revisits.c)  # fmt: skip
    row = (await conn.execute(stmt)).first()
    if row is not None:
        return revisit_read(row), True
    first = await recorded(conn, case_id)
    assert first is not None
    return replay(first, fingerprint), False


async def rebound_case(
    conn: AsyncConnection, vault: PiiVault, row: Row[Any], body: RevisitCreate
) -> CaseCreate:
    """The submission a matter found alive becomes: the petitioner's own, a rebound."""
    case = CaseCreate(
        external_id=f"revisit-{row.case_id}", category=row.category,
        title=f"回头看：{row.title}"[:200], description=body.note, location=row.location,
        address=row.address, petitioner=await _petitioner(conn, vault, row),
    )  # fmt: skip
    case._rebound_of = row.case_id
    return case


async def _petitioner(conn: AsyncConnection, vault: PiiVault, row: Row[Any]) -> PetitionerIn | None:
    """The contact given with the closed case, else the petitioner's record (intake alone
    holds either; they never leave it)."""
    sealed = row
    if row.phone_enc is None and row.id_number_enc is None and row.petitioner_ref:
        sealed = (
            await conn.execute(
                select(petitioners).where(petitioners.c.petitioner_ref == row.petitioner_ref)
            )
        ).first() or row
    phone, id_number = vault.open(sealed.phone_enc), vault.open(sealed.id_number_enc)
    if not phone and not id_number:
        return None
    return PetitionerIn.model_construct(
        name=vault.open(sealed.name_enc), phone=phone, id_number=id_number,
        email=vault.open(sealed.email_enc),
    )  # fmt: skip
