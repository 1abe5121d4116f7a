"""Persons of many numbers (一人多号): read one, and merge or split them (staff, audited).

Numbers that meet on one submission are linked by intake itself
(:mod:`services.intake.persons`); these routes are for what a submission cannot know:
two numbers of one person that never met (merge), or numbers wrongly joined (split).
Supervisors of the person's area (every person merged must have a case in it) and admin;
ops may read. Each change is written to ``platform.audit_log`` (``person.merge``,
``person.split``) with the refs and the reason, and to the key person's history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import key_person_views as views
from services.intake import persons
from services.intake.api.key_persons import NO_PERSON, scoped_person
from services.intake.key_person_schemas import PersonMerge, PersonRead, PersonSplit, SplitRead
from shared.auth import audit
from shared.auth.dependency import area_for, require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import Area
from shared.domain.errors import Conflict, NotFound
from shared.domain.key_persons import split_refusal
from shared.web.fields import PETITIONER_REF
from shared.web.problems import BODY, CONFLICT, KEYED, NOT_FOUND

router = APIRouter(
    prefix="/v1/persons", tags=["persons"], responses=KEYED | NOT_FOUND | CONFLICT | BODY
)
StaffKey = Annotated[ApiKey, require(Role.SUPERVISOR)]
WatchKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR)]
RefPath = Annotated[str, Path(pattern=PETITIONER_REF)]


@router.get("/{petitioner_ref}", response_model=PersonRead, summary="诉求人（一人多号）(a person)")
async def get_person(petitioner_ref: RefPath, key: WatchKey, request: Request) -> PersonRead:
    async with request.app.state.runtime.engine.connect() as conn:
        found = await views.person(conn, petitioner_ref, area_for(request, key))
    if found is None:
        raise NotFound(NO_PERSON)
    return found


@router.post("/merge", response_model=PersonRead, summary="合并为同一人 (merge persons)")
async def merge(body: PersonMerge, key: StaffKey, request: Request) -> PersonRead:
    """The first ref's person stays; the others' numbers, registry rows, plans, visits
    and conversions join it."""
    runtime = request.app.state.runtime
    area = area_for(request, key)
    async with runtime.engine.begin() as conn:
        people = [(await scoped_person(conn, ref, area))[0] for ref in body.refs]
        survivor, others = people[0], list(dict.fromkeys(p for p in people[1:] if p != people[0]))
        if not others:
            raise Conflict("这些号码已是同一人 (already one person)")
        await _link_singletons(conn, survivor, others, runtime.clock.now())
        await persons.fold(conn, survivor, others, at=runtime.clock.now(), actor=key.actor,
                           reason=body.reason)  # fmt: skip
        await audit.record(conn, key, "person.merge", person_ref=survivor, merged=others,
                           reason=body.reason)  # fmt: skip
    return await _read(request, key, survivor)


@router.post(
    "/{petitioner_ref}/split", response_model=SplitRead, summary="拆分为另一人 (split a person)"
)
async def split(
    petitioner_ref: RefPath, body: PersonSplit, key: StaffKey, request: Request
) -> SplitRead:
    """``refs`` leave the person and become one person of their own (the first names it);
    the person's own ref, registry row and history stay."""
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        person, _ = await scoped_person(conn, petitioner_ref, area_for(request, key))
        members = await persons.refs_of(conn, person)
        if (why := split_refusal(person, body.refs, members)) is not None:
            raise Conflict(why)
        new = await persons.split(conn, list(dict.fromkeys(body.refs)), at=runtime.clock.now())
        await audit.record(conn, key, "person.split", person_ref=person, split=body.refs,
                           reason=body.reason)  # fmt: skip
    return SplitRead(person_ref=person, split_into=new)


async def _link_singletons(
    conn: AsyncConnection, survivor: str, others: list[str], now: datetime
) -> None:
    """A person of one ref has no link row: give the survivor and such others theirs."""
    rows = [
        {"ref": p, "person_ref": survivor, "kind": "petitioner", "linked_at": now,
         "source": "merge"}
        for p in [survivor, *others]
        if not await persons.members(conn, p)
    ]  # fmt: skip
    await persons.write_links(conn, rows)


async def _read(request: Request, key: ApiKey, person: str) -> PersonRead:
    area: Area = area_for(request, key)
    async with request.app.state.runtime.engine.connect() as conn:
        found = await views.person(conn, person, area)
    if found is None:
        raise NotFound(NO_PERSON)
    return found
