"""One person, many numbers (一人多号): identity refs linked into persons.

A submission gives up to three identities (phone, ID number, name + address: keyed
hashes, :func:`shared.security.pii.identity_refs`). Those that meet on one submission
are one person: ``person_links`` maps each ref to the person's ref (a ref with no row is
a person of its own). The links a submission makes wait in the unit of work and are
written with its other rows; the lookup that tells a submission's identities' persons is
one statement per transaction (:func:`known`), made with the unit's other prefetches.

Two persons that already have refs of their own, or a registry row, are joined at once
(:func:`fold`): rare, and it moves their registry rows, plans, visits and conversions to
the person that stays. Staff merge and split persons through ``api_persons``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.tables import (
    key_person_conversions,
    key_person_events,
    key_person_plans,
    key_person_visits,
    key_persons,
    person_links,
)
from shared.domain.key_persons import person_of

Identity = tuple[str, str]  # (kind, ref)


@dataclass(frozen=True)
class Known:
    """What the links say of one identity ref."""

    person: str  # its person (itself when unlinked)
    linked: bool  # has a link row (its person may have other refs)
    filed: bool  # its person has a registry row (active or left)


_KNOWN = text(
    """
    SELECT t.ref, coalesce(l.person_ref, t.ref) AS person, l.ref IS NOT NULL AS linked,
      EXISTS (SELECT 1 FROM intake.key_persons k
              WHERE k.petitioner_ref = coalesce(l.person_ref, t.ref)) AS filed
    FROM unnest(CAST(:refs AS text[])) AS t(ref)
    LEFT JOIN intake.person_links l ON l.ref = t.ref
    """
)


async def known(conn: AsyncConnection, refs: Sequence[str]) -> dict[str, Known]:
    """Every ref's :class:`Known`, in one indexed statement."""
    if not refs:
        return {}
    rows = await conn.execute(_KNOWN, {"refs": list(dict.fromkeys(refs))})
    return {r.ref: Known(r.person, bool(r.linked), bool(r.filed)) for r in rows}


@dataclass
class Linking:
    """What one submission's identities do: the person, the link rows to write, and the
    persons to fold into it (they have other refs or a registry row)."""

    person: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    fold: list[str] = field(default_factory=list)


def linking(identities: Sequence[Identity], found: dict[str, Known], now: datetime) -> Linking:
    """Pure: the person ``identities`` make given what the links say (``found``)."""
    refs = [ref for _, ref in identities]
    linked = {r: k.person for r, k in found.items() if k.linked and r in refs}
    person, others = person_of(refs, linked)
    kinds = {ref: kind for kind, ref in identities}
    # the person's own row exists when it came from the links; else it is refs[0], new
    rows = [
        {"ref": r, "person_ref": person, "kind": kinds[r], "linked_at": now,
         "source": "submission"}
        for r in dict.fromkeys(refs)
        if linked.get(r) != person
    ]  # fmt: skip
    if len(refs) < 2 or not rows:
        return Linking(person)
    joined = {p for r, k in found.items() if (p := k.person) in others and (k.linked or k.filed)}
    return Linking(person, rows, sorted(joined))


_UPSERT = pg_insert(person_links)
UPSERT_LINKS = _UPSERT.on_conflict_do_update(
    index_elements=[person_links.c.ref],
    set_={"person_ref": _UPSERT.excluded.person_ref, "source": _UPSERT.excluded.source},
)


async def write_links(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(UPSERT_LINKS, rows)


async def fold(
    conn: AsyncConnection, person: str, others: Sequence[str], *, at: datetime, actor: str,
    reason: str,
) -> None:  # fmt: skip
    """Join ``others`` into ``person``: their refs, registry row, plans, visits,
    conversions and history. One registry row stays (``person``'s, else the earliest
    entered), active if any was."""
    if not others:
        return
    others = [o for o in others if o != person]
    await conn.execute(
        update(person_links).where(person_links.c.person_ref.in_(others)).values(person_ref=person)
    )
    await _fold_registry(conn, person, others)
    for table in (key_person_plans, key_person_events):
        await conn.execute(
            update(table).where(table.c.petitioner_ref.in_(others)).values(petitioner_ref=person)
        )
    await _fold_unique(conn, key_person_visits, ("kind", "visited_at"), person, others)
    await _fold_unique(conn, key_person_conversions, ("role",), person, others)
    if await conn.scalar(select(exists().where(key_persons.c.petitioner_ref == person))):
        await conn.execute(
            insert(key_person_events).values(
                petitioner_ref=person, at=at, actor=actor, action="merged", reason=reason,
                detail={"merged": list(others)},
            )
        )  # fmt: skip


async def _fold_registry(conn: AsyncConnection, person: str, others: list[str]) -> None:
    rows = (
        await conn.execute(
            select(key_persons)
            .where(key_persons.c.petitioner_ref.in_([person, *others]))
            .order_by(key_persons.c.entered_at)
        )
    ).all()
    if not rows:
        return
    keep = next((r for r in rows if r.petitioner_ref == person), rows[0])
    active = any(r.state == "active" for r in rows)
    await conn.execute(
        delete(key_persons).where(
            key_persons.c.petitioner_ref.in_([r.petitioner_ref for r in rows if r is not keep])
        )
    )
    values: dict[str, Any] = {"petitioner_ref": person}
    if active and keep.state != "active":
        values |= {"state": "active", "left_at": None, "left_reason": None}
    await conn.execute(
        update(key_persons)
        .where(key_persons.c.petitioner_ref == keep.petitioner_ref)
        .values(values)
    )
    # the history of the rows folded away keeps its dedupe keys out of the survivor's
    await conn.execute(
        update(key_person_events)
        .where(key_person_events.c.petitioner_ref.in_(others))
        .values(dedupe=None)
    )


async def _fold_unique(
    conn: AsyncConnection, table: Any, key: tuple[str, ...], person: str, others: list[str]
) -> None:
    """Move rows keyed by (person, *key); a row the survivor already has is dropped."""
    mine = table.alias("mine")
    same = and_(mine.c.petitioner_ref == person, *(mine.c[k] == table.c[k] for k in key))
    await conn.execute(
        delete(table).where(table.c.petitioner_ref.in_(others), exists().where(same))
    )
    await conn.execute(
        update(table).where(table.c.petitioner_ref.in_(others)).values(petitioner_ref=person)
    )


async def person_ref(conn: AsyncConnection, ref: str) -> str:
    """The person ``ref`` belongs to (itself when unlinked)."""
    found = await conn.scalar(select(person_links.c.person_ref).where(person_links.c.ref == ref))
    return found or ref


async def members(conn: AsyncConnection, person: str) -> list[Any]:
    """The link rows of a person (none: a person of one ref), oldest first."""
    return list(
        (
            await conn.execute(
                select(person_links)
                .where(person_links.c.person_ref == person)
                .order_by(person_links.c.linked_at, person_links.c.ref)
            )
        ).all()
    )


async def refs_of(conn: AsyncConnection, person: str) -> list[str]:
    """Every ref of a person, the person's own first."""
    return list(dict.fromkeys([person, *(r.ref for r in await members(conn, person))]))


async def split(conn: AsyncConnection, refs: Sequence[str], *, at: datetime) -> str:
    """Move ``refs`` out of their person into a person of their own (named by the first);
    checked by :func:`shared.domain.key_persons.split_refusal` first."""
    new, rest = refs[0], list(refs)
    if len(rest) == 1:
        await conn.execute(delete(person_links).where(person_links.c.ref == new))
        return new
    await conn.execute(
        update(person_links)
        .where(person_links.c.ref.in_(rest))
        .values(person_ref=new, linked_at=at, source="split")
    )
    return new
