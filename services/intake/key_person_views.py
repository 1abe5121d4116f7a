"""Key persons' files (一人一档) and persons, as supervisors and ops read them.

A person is every ref linked to them (一人多号, :mod:`services.intake.persons`): a file
counts and lists the cases of all of them. With a limited area a file lists only the
person's cases inside it, and a person with none there is not the reader's business (left
out of lists, 404 alone); ``petitions`` stays the total.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import structlog
from cryptography.fernet import InvalidToken
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import persons, registry
from services.intake.key_person_schemas import (
    ConversionRead,
    HistoryRow,
    KeyPersonCase,
    KeyPersonRead,
    PersonRead,
    PersonRefRead,
    PlanRead,
    Team,
    VisitRead,
)
from services.intake.tables import (
    cases,
    duplicate_links,
    key_person_conversions,
    key_person_events,
    key_person_visits,
    key_persons,
    petitioners,
)
from shared.auth.scope import Area
from shared.domain.intake_submission import STATUS_LABELS
from shared.domain.key_persons import (
    ROLE_LABELS,
    STATE_LABELS,
    VISIT_LABELS,
    ConversionRole,
    KeyPersonState,
    VisitKind,
    is_review_due,
)
from shared.security.pii import PiiVault, mask_phone
from shared.security.redact import mask_numbers, mask_optional

log = structlog.get_logger(__name__)


async def list_files(
    conn: AsyncConnection, vault: PiiVault, *, limit: int, area: Area, today: date,
    state: str = "active", due: bool = False,
) -> list[KeyPersonRead]:  # fmt: skip
    """Newest entries first; ``state`` active | left | all; ``due``: only active persons
    whose review is due by ``today`` (most overdue first)."""
    query = _registry_query()
    if state != "all":
        query = query.where(key_persons.c.state == state)
    if due:
        query = (
            query.where(
                key_persons.c.state == KeyPersonState.ACTIVE.value,
                key_persons.c.review_due <= today,
            )
            .order_by(None)
            .order_by(key_persons.c.review_due, key_persons.c.petitioner_ref)
        )
    if area.unlimited:
        query = query.limit(limit)
    files: list[KeyPersonRead] = []
    for row in (await conn.execute(query)).all():
        found = await _file(conn, vault, row, area, today, full=False)
        if found is not None:
            files.append(found)
        if len(files) >= limit:
            break
    return files


async def one_file(
    conn: AsyncConnection, vault: PiiVault, ref: str, *, area: Area, today: date
) -> KeyPersonRead | None:
    """The file of the person ``ref`` belongs to (None: not a key person, or not in area)."""
    person = await persons.person_ref(conn, ref)
    row = (
        await conn.execute(_registry_query().where(key_persons.c.petitioner_ref == person))
    ).first()
    return None if row is None else await _file(conn, vault, row, area, today, full=True)


def _registry_query() -> Select[Any]:
    return (
        select(key_persons, petitioners.c.phone_enc)
        .join(
            petitioners,
            petitioners.c.petitioner_ref == key_persons.c.petitioner_ref,
            isouter=True,
        )
        .order_by(key_persons.c.entered_at.desc())
    )


async def cases_of(conn: AsyncConnection, refs: list[str]) -> list[Any]:
    return list(
        (
            await conn.execute(
                select(cases).where(cases.c.petitioner_ref.in_(refs)).order_by(cases.c.received_at)
            )
        ).all()
    )


async def petitions(conn: AsyncConnection, refs: list[str], own: int) -> int:
    linked = await conn.scalar(
        select(func.count())
        .select_from(duplicate_links)
        .where(duplicate_links.c.petitioner_ref.in_(refs))
    )
    return own + int(linked or 0)


def in_area(rows: list[Any], area: Area) -> list[Any]:
    return [c for c in rows if area.covers_location(c.location)]


async def _file(
    conn: AsyncConnection, vault: PiiVault, row: Any, area: Area, today: date, *, full: bool
) -> KeyPersonRead | None:
    person = row.petitioner_ref
    refs = await persons.refs_of(conn, person)
    every = await cases_of(conn, refs)
    shown = in_area(every, area)
    if not shown and not area.unlimited:
        return None
    state = KeyPersonState(row.state)
    plan = await registry.current_plan(conn, person)
    return KeyPersonRead(
        petitioner_ref=person,
        masked_phone=_masked_phone(vault, person, row.phone_enc),
        reason=row.reason,
        entered_at=row.entered_at,
        entered_by=row.entered_by,
        state=state,
        state_label=STATE_LABELS[state],
        review_due=row.review_due,
        review_is_due=state is KeyPersonState.ACTIVE and is_review_due(row.review_due, today),
        left_at=row.left_at,
        left_reason=row.left_reason,
        petitions=await petitions(conn, refs, len(every)),
        cases=[_case(c) for c in shown],
        plan=_plan(plan) if plan else None,
        visits=await _visits(conn, person) if full else [],
        conversions=await conversions(conn, [person]),
        history=await _history(conn, person) if full else [],
    )


def _case(c: Any) -> KeyPersonCase:
    return KeyPersonCase(
        case_id=c.case_id,
        channel=c.channel,
        category=c.category,
        title=mask_numbers(c.title),
        status=c.status,
        status_label=STATUS_LABELS.get(c.status, c.status),
        received_at=c.received_at,
        received_by=c.received_by,
    )


def _plan(p: dict[str, Any]) -> PlanRead:
    team = Team(cadre=p["cadre"], grid_worker=p["grid_worker"], volunteer=p["volunteer"])
    return PlanRead(
        matter=p["matter"],
        measures=p["measures"],
        team=team,
        review_on=p["review_on"],
        made_by=p["made_by"],
        made_at=p["made_at"],
    )


async def _visits(conn: AsyncConnection, person: str) -> list[VisitRead]:
    rows = await conn.execute(
        select(key_person_visits)
        .where(key_person_visits.c.petitioner_ref == person)
        .order_by(key_person_visits.c.visited_at)
    )
    return [
        VisitRead(
            visit_id=v.visit_id,
            kind=VisitKind(v.kind),
            kind_label=VISIT_LABELS[VisitKind(v.kind)],
            visited_at=v.visited_at,
            visitors=v.visitors,
            method=v.method,
            outcome=mask_numbers(v.outcome),
            minutes=mask_numbers(v.minutes),
            case_id=v.case_id,
            recorded_by=v.recorded_by,
        )
        for v in rows
    ]


async def conversions(
    conn: AsyncConnection, people: list[str] | None, *, since: date | None = None,
    until: date | None = None,
) -> list[ConversionRead]:  # fmt: skip
    """Conversion rows (矛盾转化) of ``people`` (None: everyone), ``since``–``until``
    inclusive by the date the role began."""
    query = select(key_person_conversions).order_by(
        key_person_conversions.c.since, key_person_conversions.c.petitioner_ref
    )
    if people is not None:
        query = query.where(key_person_conversions.c.petitioner_ref.in_(people))
    if since is not None:
        query = query.where(key_person_conversions.c.since >= since)
    if until is not None:
        query = query.where(key_person_conversions.c.since <= until)
    return [
        ConversionRead(
            petitioner_ref=c.petitioner_ref,
            role=ConversionRole(c.role),
            role_label=ROLE_LABELS[ConversionRole(c.role)],
            since=c.since,
            note=mask_numbers(c.note),
            recorded_by=c.recorded_by,
            recorded_at=c.recorded_at,
        )
        for c in await conn.execute(query)
    ]


async def _history(conn: AsyncConnection, person: str) -> list[HistoryRow]:
    rows = await conn.execute(
        select(key_person_events)
        .where(key_person_events.c.petitioner_ref == person)
        .order_by(key_person_events.c.seq)
    )
    return [
        HistoryRow(
            at=r.at, actor=r.actor, action=r.action, reason=mask_optional(r.reason), detail=r.detail
        )
        for r in rows
    ]


async def person(conn: AsyncConnection, ref: str, area: Area) -> PersonRead | None:
    """The person ``ref`` belongs to; None when unknown (no case, no link) or, for a
    limited area, none of their cases lies in it."""
    who = await persons.person_ref(conn, ref)
    links = await persons.members(conn, who)
    refs = list(dict.fromkeys([who, *(r.ref for r in links)]))
    every = await cases_of(conn, refs)
    if not every and not links:
        return None
    if not area.unlimited and not in_area(every, area):
        return None
    by_ref = {r.ref: r for r in links}
    filed = await conn.scalar(select(func.count()).where(key_persons.c.petitioner_ref == who))
    return PersonRead(
        person_ref=who,
        refs=[
            PersonRefRead(
                ref=r,
                kind=by_ref[r].kind if r in by_ref else "petitioner",
                linked_at=by_ref[r].linked_at if r in by_ref else None,
                source=by_ref[r].source if r in by_ref else None,
            )
            for r in refs
        ],
        petitions=await petitions(conn, refs, len(every)),
        key_person=bool(filed),
    )


async def person_in_area(conn: AsyncConnection, person_ref: str, area: Area) -> bool:
    every = await cases_of(conn, await persons.refs_of(conn, person_ref))
    return bool(in_area(every, area))


def _masked_phone(vault: PiiVault, person: str, sealed: bytes | None) -> str | None:
    """The phone, masked; None (and an error logged) for one the installation's keys
    cannot open (a key retired too early): one such person must not hide the whole list."""
    try:
        return mask_phone(vault.open(sealed))
    except InvalidToken:
        log.error("pii_unreadable", petitioner_ref=person, column="phone_enc")
        return None
