"""Intake's use cases: accept a submission once, whatever the retries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.schemas import CaseCreate
from services.intake.tables import case_refs, cases, outbox, petitioners
from shared.contracts.envelope import make_envelope
from shared.contracts.events import CaseReceived, LocationData
from shared.db.outbox import write_events
from shared.ids import new_id
from shared.security.pii import PiiVault, petitioner_ref

STATUS_LABELS = {
    "received": "已受理",
    "dispatched": "已派单",
    "acknowledged": "已签收",
    "in_progress": "办理中",
    "resolved": "已办结",
    "closed": "已结案",
    "disputed": "协调中（吹哨）",
}
STATUS_RANK = {s: i for i, s in enumerate(STATUS_LABELS)}


@dataclass(frozen=True)
class Submitted:
    case_id: UUID
    status: str
    created: bool
    received_at: datetime


@dataclass(frozen=True)
class IntakeDeps:
    vault: PiiVault
    pseudonym_key: str


async def submit_case(
    conn: AsyncConnection,
    *,
    deps: IntakeDeps,
    channel: str,
    body: CaseCreate,
    idempotency_key: str | None,
    now: datetime,
) -> tuple[Submitted, bool]:
    """Store a new case and stage ``case.received``; a replay returns the first case.

    Returns the submission and whether an event was staged.
    """
    refs = [("external_id", body.external_id), ("idempotency_key", idempotency_key)]
    refs = [(kind, ref) for kind, ref in refs if ref]
    existing = await _existing_case(conn, channel, refs)
    if existing is not None:
        return existing, False
    case_id = new_id()
    if not await _claim_refs(conn, channel, refs, case_id):
        again = await _existing_case(conn, channel, refs)
        assert again is not None, "a ref conflict always names a committed case"
        return again, False
    ref = await _store_petitioner(conn, deps, body)
    await conn.execute(
        insert(cases).values(
            case_id=case_id,
            channel=channel,
            external_id=body.external_id,
            petitioner_ref=ref,
            category=body.category,
            title=body.title,
            description=body.description,
            location=body.location.model_dump(),
            urgency=body.urgency,
            received_by=body.received_by,
            status="received",
            status_at=now,
            received_at=now,
        )
    )
    event = CaseReceived(
        case_id=case_id,
        channel=channel,
        external_id=body.external_id,
        category=body.category,
        title=body.title,
        description=body.description,
        location=LocationData(**body.location.model_dump()),
        urgency=body.urgency,
        petitioner_ref=ref,
        received_by=body.received_by,
    )
    envelope = make_envelope(event, producer="intake", occurred_at=now, case_id=case_id)
    await write_events(conn, outbox, [envelope])
    return Submitted(case_id, "received", True, now), True


async def _existing_case(
    conn: AsyncConnection, channel: str, refs: list[tuple[str, str]]
) -> Submitted | None:
    for kind, ref in refs:
        row = (
            await conn.execute(
                select(cases.c.case_id, cases.c.status, cases.c.received_at)
                .join(case_refs, case_refs.c.case_id == cases.c.case_id)
                .where(
                    case_refs.c.channel == channel, case_refs.c.kind == kind, case_refs.c.ref == ref
                )
            )
        ).first()
        if row is not None:
            return Submitted(row.case_id, row.status, False, row.received_at)
    return None


async def _claim_refs(
    conn: AsyncConnection, channel: str, refs: list[tuple[str, str]], case_id: UUID
) -> bool:
    """Insert every ref; False if another transaction took one first (it then wins)."""
    for kind, ref in refs:
        stmt = (
            pg_insert(case_refs)
            .values(channel=channel, ref=ref, kind=kind, case_id=case_id)
            .on_conflict_do_nothing()
            .returning(case_refs.c.case_id)
        )
        if (await conn.execute(stmt)).first() is None:
            return False
    return True


async def _store_petitioner(
    conn: AsyncConnection, deps: IntakeDeps, body: CaseCreate
) -> str | None:
    p = body.petitioner
    if p is None:
        return None
    ref = petitioner_ref(deps.pseudonym_key, phone=p.phone, id_number=p.id_number)
    if ref is None:
        return None
    values = {
        "name_enc": deps.vault.seal(p.name),
        "phone_enc": deps.vault.seal(p.phone),
        "id_number_enc": deps.vault.seal(p.id_number),
    }
    stmt = pg_insert(petitioners).values(petitioner_ref=ref, **values)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[petitioners.c.petitioner_ref],
            set_={k: getattr(stmt.excluded, k) for k, v in values.items() if v is not None}
            | {"updated_at": stmt.excluded.updated_at},
        )
    )
    return ref
