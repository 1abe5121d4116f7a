"""Working with key persons (重点人员): enter by hand, review, leave, 一人一策, visits,
矛盾转化.

Supervisors of the person's area (the area of any of their cases) and admin; every
write is audited (``key_person.*`` in ``platform.audit_log``) and kept in the person's
history. Another area's person, or a ref intake never saw, is 404; a refused step of the
lifecycle is 409 with its reason. Each answer is the person's file after the change.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import key_person_views as views
from services.intake import persons, registry
from services.intake.key_person_schemas import (
    ConversionIn,
    KeyPersonEnter,
    KeyPersonLeave,
    KeyPersonRead,
    KeyPersonReview,
    PlanIn,
    VisitIn,
)
from shared.auth import audit
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import Area, area_for
from shared.domain.errors import NotFound
from shared.domain.key_persons import next_state, review_due
from shared.web.fields import PETITIONER_REF
from shared.web.problems import BODY, CONFLICT, KEYED, NOT_FOUND

router = APIRouter(
    prefix="/v1/key-persons", tags=["key persons"], responses=KEYED | NOT_FOUND | CONFLICT | BODY
)
StaffKey = Annotated[ApiKey, require(Role.SUPERVISOR)]
RefPath = Annotated[str, Path(pattern=PETITIONER_REF)]
NO_PERSON = "诉求人不存在或不在本辖区 (no such person in your area)"


async def scoped_person(conn: AsyncConnection, ref: str, area: Area) -> tuple[str, list[Any]]:
    """The person ``ref`` belongs to and their cases; 404 unless one lies in ``area``."""
    person = await persons.person_ref(conn, ref)
    every = await views.cases_of(conn, await persons.refs_of(conn, person))
    if not views.in_area(every, area):
        raise NotFound(NO_PERSON)
    return person, every


async def _answer(request: Request, key: ApiKey, person: str) -> KeyPersonRead:
    runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        found = await views.one_file(
            conn, runtime.deps.vault, person, area=area_for(request, key),
            today=registry.local_day(runtime.clock.now()),
        )  # fmt: skip
    if found is None:
        raise NotFound(NO_PERSON)
    return found


@router.post(
    "", response_model=KeyPersonRead, status_code=201, summary="手动列入重点人员 (enter by hand)"
)
async def enter(body: KeyPersonEnter, key: StaffKey, request: Request) -> KeyPersonRead:
    runtime = request.app.state.runtime
    now, policy = runtime.clock.now(), runtime.deps.policy.key_persons
    async with runtime.engine.begin() as conn:
        person, every = await scoped_person(conn, body.petitioner_ref, area_for(request, key))
        next_state(await registry.state_of(conn, person), "enter")
        await registry.enter(
            conn, person, reason=body.reason, actor=key.actor, now=now,
            petitions=await views.petitions(conn, await persons.refs_of(conn, person), len(every)),
            review_every_days=policy.review_every_days,
        )  # fmt: skip
        await audit.record(conn, key, "key_person.enter", petitioner_ref=person)
    return await _answer(request, key, person)


@router.post("/{petitioner_ref}/review", response_model=KeyPersonRead, summary="复核 (review)")
async def review(
    petitioner_ref: RefPath, body: KeyPersonReview, key: StaffKey, request: Request
) -> KeyPersonRead:
    runtime = request.app.state.runtime
    now, policy = runtime.clock.now(), runtime.deps.policy.key_persons
    today = registry.local_day(now)
    due = body.next_review_on or review_due(today, policy.review_every_days)
    if due <= today:
        raise HTTPException(422, "下次复核日期须晚于今天 (next_review_on must be after today)")
    async with runtime.engine.begin() as conn:
        person, _ = await scoped_person(conn, petitioner_ref, area_for(request, key))
        await registry.review(conn, person, actor=key.actor, note=body.note, next_due=due, now=now)
        await audit.record(conn, key, "key_person.review", petitioner_ref=person)
    return await _answer(request, key, person)


@router.post("/{petitioner_ref}/leave", response_model=KeyPersonRead, summary="出库 (leave)")
async def leave(
    petitioner_ref: RefPath, body: KeyPersonLeave, key: StaffKey, request: Request
) -> KeyPersonRead:
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        person, _ = await scoped_person(conn, petitioner_ref, area_for(request, key))
        await registry.leave(
            conn, person, actor=key.actor, reason=body.reason, now=runtime.clock.now()
        )
        await audit.record(conn, key, "key_person.leave", petitioner_ref=person)
    return await _answer(request, key, person)


@router.put("/{petitioner_ref}/plan", response_model=KeyPersonRead, summary="一人一策 (plan)")
async def put_plan(
    petitioner_ref: RefPath, body: PlanIn, key: StaffKey, request: Request
) -> KeyPersonRead:
    runtime = request.app.state.runtime
    fields = body.model_dump(exclude={"team"}) | body.team.model_dump()
    async with runtime.engine.begin() as conn:
        person, _ = await scoped_person(conn, petitioner_ref, area_for(request, key))
        if await registry.plan(conn, person, fields, actor=key.actor, now=runtime.clock.now()):
            await audit.record(conn, key, "key_person.plan", petitioner_ref=person)
    return await _answer(request, key, person)


@router.post("/{petitioner_ref}/visits", response_model=KeyPersonRead, status_code=201,
             summary="走访记录 (record a visit)")  # fmt: skip
async def post_visit(
    petitioner_ref: RefPath, body: VisitIn, key: StaffKey, request: Request, response: Response
) -> KeyPersonRead:
    """A retry (same person, kind and time) records nothing new and answers 200."""
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        person, every = await scoped_person(conn, petitioner_ref, area_for(request, key))
        if body.case_id is not None and body.case_id not in {c.case_id for c in every}:
            raise HTTPException(422, "该诉求不是此人的 (case_id is not this person's case)")
        fields = body.model_dump(mode="python")
        visit_id, new = await registry.visit(
            conn, person, fields, actor=key.actor, now=runtime.clock.now()
        )
        if new:
            await audit.record(conn, key, "key_person.visit", petitioner_ref=person,
                               visit_id=str(visit_id))  # fmt: skip
        else:
            response.status_code = 200
    return await _answer(request, key, person)


@router.post("/{petitioner_ref}/conversions", response_model=KeyPersonRead, status_code=201,
             summary="矛盾转化 (record a conversion)")  # fmt: skip
async def post_conversion(
    petitioner_ref: RefPath, body: ConversionIn, key: StaffKey, request: Request,
    response: Response,
) -> KeyPersonRead:  # fmt: skip
    """One row per (person, role): a retry answers 200 and records nothing."""
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        person, _ = await scoped_person(conn, petitioner_ref, area_for(request, key))
        if await registry.convert(
            conn, person, role=body.role.value, since=body.since, note=body.note,
            actor=key.actor, now=runtime.clock.now(),
        ):  # fmt: skip
            await audit.record(conn, key, "key_person.convert", petitioner_ref=person,
                               role=body.role.value)  # fmt: skip
        else:
            response.status_code = 200
    return await _answer(request, key, person)
