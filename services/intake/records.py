"""Channel numbers (case_refs) and petitioners: claiming, replaying, storing encrypted."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.schemas import CaseCreate
from services.intake.tables import case_refs, cases, petitioners
from shared.security.pii import petitioner_ref

if TYPE_CHECKING:
    from services.intake.service import IntakeDeps


@dataclass(frozen=True)
class Submitted:
    case_id: UUID
    status: str
    created: bool
    received_at: datetime
    duplicate_of: UUID | None = None
    suggested: list[UUID] = field(default_factory=list)
    key_person: bool = False
    rebound_of: UUID | None = None


async def replay(conn: AsyncConnection, channel: str, refs: list[tuple[str, str]]) -> Submitted:
    again = await existing_case(conn, channel, refs)
    assert again is not None, "a ref conflict always names a committed case"
    return again


_EXISTING = (
    select(
        cases.c.case_id, cases.c.status, cases.c.received_at, cases.c.key_person, case_refs.c.linked
    )
    .join(case_refs, case_refs.c.case_id == cases.c.case_id)
    .where(
        case_refs.c.channel == bindparam("channel"),
        case_refs.c.kind == bindparam("kind"),
        case_refs.c.ref == bindparam("ref"),
    )
)
_CLAIM = (
    pg_insert(case_refs)
    .values(
        channel=bindparam("channel"),
        ref=bindparam("ref"),
        kind=bindparam("kind"),
        case_id=bindparam("case_id"),
        linked=bindparam("linked"),
    )
    .on_conflict_do_nothing()
    .returning(case_refs.c.case_id)
)


async def existing_case(
    conn: AsyncConnection, channel: str, refs: list[tuple[str, str]]
) -> Submitted | None:
    for kind, ref in refs:
        row = (
            await conn.execute(_EXISTING, {"channel": channel, "kind": kind, "ref": ref})
        ).first()
        if row is not None:
            dup = row.case_id if row.linked else None
            return Submitted(
                row.case_id,
                row.status,
                False,
                row.received_at,
                duplicate_of=dup,
                key_person=row.key_person,
            )
    return None


async def claim_refs(
    conn: AsyncConnection,
    channel: str,
    refs: list[tuple[str, str]],
    case_id: UUID,
    *,
    linked: bool = False,
) -> bool:
    """Insert every ref; False if another transaction took one first (it then wins).

    On a conflict the refs this call did insert are removed again, so no number is left
    pointing at a case that is never stored.
    """
    taken: list[tuple[str, str]] = []
    for kind, ref in refs:
        claim = {"channel": channel, "ref": ref, "kind": kind, "case_id": case_id, "linked": linked}
        if (await conn.execute(_CLAIM, claim)).first() is None:
            for k, r in taken:
                await conn.execute(
                    delete(case_refs).where(
                        case_refs.c.channel == channel, case_refs.c.kind == k, case_refs.c.ref == r
                    )
                )
            return False
        taken.append((kind, ref))
    return True


async def store_petitioner(conn: AsyncConnection, deps: IntakeDeps, body: CaseCreate) -> str | None:
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
        "email_enc": deps.vault.seal(p.email),
    }
    given = frozenset(k for k, v in values.items() if v is not None)
    await conn.execute(_upsert_petitioner(given), {"petitioner_ref": ref, **values})
    return ref


@functools.cache
def _upsert_petitioner(given: frozenset[str]) -> Any:
    """Built once per set of fields given: a field not given keeps its stored value."""
    stmt = pg_insert(petitioners)
    return stmt.on_conflict_do_update(
        index_elements=[petitioners.c.petitioner_ref],
        set_={k: getattr(stmt.excluded, k) for k in sorted(given)}
        | {"updated_at": stmt.excluded.updated_at},
    )
