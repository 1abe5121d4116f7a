"""The key-person registry's writes: enter, review, leave, plan, visit, convert.

Each change is checked by the lifecycle (:mod:`shared.domain.key_persons`: a refused one
raises ``InvalidTransition``, a 409 with its reason) and written with its history row
(``key_person_events``: who, when, why) in the caller's transaction. A retried request
writes nothing twice: entering and leaving are refused in the state they lead to, a
review is one per person and day, a plan equal to the current one is not a new version,
a visit is keyed by (person, kind, time) and a conversion by (person, role).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.tables import (
    key_person_conversions,
    key_person_events,
    key_person_plans,
    key_person_visits,
    key_persons,
)
from shared.domain.calendar import SHANGHAI
from shared.domain.key_persons import KeyPersonState, next_state, review_due
from shared.ids import new_id


def local_day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


async def state_of(conn: AsyncConnection, person: str) -> KeyPersonState | None:
    """The registry state, the row locked to the transaction's end (None: never entered)."""
    found = await conn.scalar(
        select(key_persons.c.state).where(key_persons.c.petitioner_ref == person).with_for_update()
    )
    return KeyPersonState(found) if found else None


async def enter(
    conn: AsyncConnection, person: str, *, reason: str, actor: str, petitions: int,
    now: datetime, review_every_days: int,
) -> bool:  # fmt: skip
    """Enter ``person`` (again, if they left); False when already active (a concurrent
    entry): nothing written then."""
    values = {
        "petitioner_ref": person, "reason": reason, "petitions_at_entry": petitions,
        "entered_at": now, "state": KeyPersonState.ACTIVE.value, "entered_by": actor,
        "review_due": review_due(local_day(now), review_every_days),
        "left_at": None, "left_reason": None,
    }  # fmt: skip
    insert_ = pg_insert(key_persons).values(values)
    stmt = insert_.on_conflict_do_update(
        index_elements=[key_persons.c.petitioner_ref],
        set_={k: insert_.excluded[k] for k in values if k != "petitioner_ref"},
        where=key_persons.c.state == KeyPersonState.LEFT.value,
    ).returning(key_persons.c.petitioner_ref)
    if (await conn.execute(stmt)).first() is None:
        return False
    await event(conn, person, now, actor, "entered", reason, {"petitions": petitions})
    return True


async def event(
    conn: AsyncConnection, person: str, at: datetime, actor: str, action: str,
    reason: str | None, detail: dict[str, Any] | None = None, *, dedupe: str | None = None,
) -> bool:  # fmt: skip
    """One history row; False when ``dedupe`` names a row already written (a retry)."""
    stmt = (
        pg_insert(key_person_events)
        .values(
            petitioner_ref=person,
            at=at,
            actor=actor,
            action=action,
            reason=reason,
            detail=detail,
            dedupe=dedupe,
        )
        .on_conflict_do_nothing()
        .returning(key_person_events.c.seq)
    )
    return (await conn.execute(stmt)).first() is not None


async def review(
    conn: AsyncConnection, person: str, *, actor: str, note: str, next_due: date,
    now: datetime,
) -> None:  # fmt: skip
    next_state(await state_of(conn, person), "review")
    day = local_day(now)
    if await event(conn, person, now, actor, "reviewed", note,
                   {"next_review_due": next_due.isoformat()}, dedupe=f"review:{day}"):  # fmt: skip
        await conn.execute(
            update(key_persons)
            .where(key_persons.c.petitioner_ref == person)
            .values(review_due=next_due)
        )


async def leave(
    conn: AsyncConnection, person: str, *, actor: str, reason: str, now: datetime
) -> None:
    to = next_state(await state_of(conn, person), "leave")
    await conn.execute(
        update(key_persons)
        .where(key_persons.c.petitioner_ref == person)
        .values(state=to.value, left_at=now, left_reason=reason)
    )
    await event(conn, person, now, actor, "left", reason)


async def plan(
    conn: AsyncConnection, person: str, fields: dict[str, Any], *, actor: str, now: datetime
) -> bool:
    """A new version of the person's plan; False when it equals the current one."""
    next_state(await state_of(conn, person), "plan")
    current = await current_plan(conn, person)
    if current is not None and all(current[k] == v for k, v in fields.items()):
        return False
    await conn.execute(
        insert(key_person_plans).values(petitioner_ref=person, made_by=actor, made_at=now, **fields)
    )
    detail = {"review_on": fields["review_on"].isoformat(), "matter": fields["matter"]}
    await event(conn, person, now, actor, "plan", "制定/更新一人一策", detail)
    return True


async def current_plan(conn: AsyncConnection, person: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(key_person_plans)
            .where(key_person_plans.c.petitioner_ref == person)
            .order_by(key_person_plans.c.seq.desc())
            .limit(1)
        )
    ).first()
    return dict(row._mapping) if row is not None else None


async def visit(
    conn: AsyncConnection, person: str, fields: dict[str, Any], *, actor: str, now: datetime
) -> tuple[Any, bool]:
    """The visit's id and whether it is new (a retry finds the one it wrote)."""
    next_state(await state_of(conn, person), "visit")
    stmt = (
        pg_insert(key_person_visits)
        .values(
            visit_id=new_id(), petitioner_ref=person, recorded_by=actor, recorded_at=now, **fields
        )
        .on_conflict_do_nothing()
        .returning(key_person_visits.c.visit_id)
    )
    made = await conn.scalar(stmt)
    if made is not None:
        detail = {"kind": fields["kind"], "visit_id": str(made)}
        await event(conn, person, now, actor, "visit", fields["outcome"], detail)
        return made, True
    found = await conn.scalar(
        select(key_person_visits.c.visit_id).where(
            key_person_visits.c.petitioner_ref == person,
            key_person_visits.c.kind == fields["kind"],
            key_person_visits.c.visited_at == fields["visited_at"],
        )
    )
    return found, False


async def convert(
    conn: AsyncConnection, person: str, *, role: str, since: date, note: str, actor: str,
    now: datetime,
) -> bool:  # fmt: skip
    """Record what the person became (矛盾转化); False when already recorded."""
    next_state(await state_of(conn, person), "convert")
    made = await conn.scalar(
        pg_insert(key_person_conversions)
        .values(
            petitioner_ref=person,
            role=role,
            since=since,
            note=note,
            recorded_by=actor,
            recorded_at=now,
        )
        .on_conflict_do_nothing()
        .returning(key_person_conversions.c.role)
    )
    if made is not None:
        await event(
            conn, person, now, actor, "converted", note, {"role": role, "since": since.isoformat()}
        )
    return made is not None
