"""Channel numbers (case_refs) and petitioners: looking up, claiming, storing encrypted.

Each statement takes arrays, so one serves a single submission and a whole group commit
alike (see :mod:`services.intake.unit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.deps import IntakeDeps
from services.intake.schemas import CaseCreate
from services.intake.tables import SEALED_CONTACT
from shared.domain.intake_submission import RefKey, Submitted
from shared.security.pii import petitioner_ref

# The answer's type is the domain's; it is still imported from here by the web layer.
__all__ = [
    "RefConflict", "RefKey", "Submitted", "claim_all", "existing_cases", "insert_petitioners",
    "petitioner_of", "sealed_contact",
]  # fmt: skip


class RefConflict(Exception):
    """Another transaction claimed one of these numbers first: run again, it is a replay."""


_EXISTING = text(
    """
    SELECT t.channel, t.kind, t.ref, c.case_id, c.status, c.received_at, c.key_person, r.linked,
           c.case_number
    FROM unnest(CAST(:channels AS text[]), CAST(:kinds AS text[]), CAST(:refs AS text[]))
      AS t(channel, kind, ref)
    JOIN intake.case_refs r ON r.channel = t.channel AND r.kind = t.kind AND r.ref = t.ref
    JOIN intake.cases c ON c.case_id = r.case_id
    """
)
_CLAIM = text(
    """
    INSERT INTO intake.case_refs (channel, ref, kind, case_id, linked)
    SELECT * FROM unnest(CAST(:channels AS text[]), CAST(:refs AS text[]),
                         CAST(:kinds AS text[]), CAST(:case_ids AS uuid[]),
                         CAST(:linked AS boolean[]))
    ON CONFLICT DO NOTHING
    RETURNING 1
    """
)
# A person's record is written by the first submission that names them and never again by
# a submission: anyone who knows a phone number could otherwise rewrite the name and email
# the notifier uses (issue 17). What each submission said stays with its own case
# (``cases.*_enc``) or link (``duplicate_links.*_enc``); only an audited admin action
# corrects the person's record (``services/intake/api/admin.py``).
_INSERT_PETITIONERS = text(
    """
    INSERT INTO intake.petitioners (petitioner_ref, name_enc, phone_enc, id_number_enc,
                                    email_enc)
    SELECT * FROM unnest(CAST(:refs AS text[]), CAST(:names AS bytea[]),
                         CAST(:phones AS bytea[]), CAST(:id_numbers AS bytea[]),
                         CAST(:emails AS bytea[]))
    ON CONFLICT (petitioner_ref) DO NOTHING
    """
)
SEALED = SEALED_CONTACT


async def existing_cases(conn: AsyncConnection, keys: Sequence[RefKey]) -> dict[RefKey, Submitted]:
    """The committed answer of every number in ``keys`` already known (one statement)."""
    if not keys:
        return {}
    rows = await conn.execute(
        _EXISTING,
        {
            "channels": [k[0] for k in keys],
            "kinds": [k[1] for k in keys],
            "refs": [k[2] for k in keys],
        },
    )
    return {
        (r.channel, r.kind, r.ref): Submitted(
            r.case_id,
            r.status,
            False,
            r.received_at,
            duplicate_of=r.case_id if r.linked else None,
            key_person=r.key_person,
            case_number=r.case_number,
        )
        for r in rows
    }


async def claim_all(conn: AsyncConnection, claims: list[tuple[RefKey, UUID, bool]]) -> None:
    """Insert every ``((channel, kind, ref), case_id, linked)``; :class:`RefConflict` if
    another transaction holds one of the numbers (it waits for that one to finish)."""
    if not claims:
        return
    params = {
        "channels": [k[0] for k, _, _ in claims],
        "kinds": [k[1] for k, _, _ in claims],
        "refs": [k[2] for k, _, _ in claims],
        "case_ids": [c for _, c, _ in claims],
        "linked": [linked for _, _, linked in claims],
    }
    inserted = len((await conn.execute(_CLAIM, params)).all())
    if inserted != len(claims):
        raise RefConflict(f"{len(claims) - inserted} of {len(claims)} numbers already claimed")


def sealed_contact(deps: IntakeDeps, body: CaseCreate) -> dict[str, bytes | None]:
    """The contact this submission gave, encrypted, by column (all None: none given)."""
    p = body.petitioner
    fields = (p.name, p.phone, p.id_number, p.email) if p else (None,) * len(SEALED)
    return {k: deps.vault.seal(v) for k, v in zip(SEALED, fields, strict=True)}


def petitioner_of(deps: IntakeDeps, body: CaseCreate) -> str | None:
    """The petitioner's keyed ref (None: anonymous, no phone or ID number given)."""
    p = body.petitioner
    return petitioner_ref(deps.pseudonym_key, phone=p.phone, id_number=p.id_number) if p else None


async def insert_petitioners(conn: AsyncConnection, rows: dict[str, dict[str, Any]]) -> None:
    """Store each petitioner not known yet (ref → sealed fields); a known one is untouched."""
    if not rows:
        return
    params = {"refs": list(rows)} | {
        name: [r[col] for r in rows.values()]
        for name, col in zip(("names", "phones", "id_numbers", "emails"), SEALED, strict=True)
    }
    await conn.execute(_INSERT_PETITIONERS, params)
