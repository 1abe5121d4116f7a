"""Working with key persons (重点人员): enter by hand, review, leave, 一人一策, visits,
矛盾转化.

Supervisors of the person's area (the area of any of their cases) and admin; every
write is audited (``key_person.*`` in ``platform.audit_log``) and kept in the person's
history. Another area's person, or a ref intake never saw, is 404; a refused step of the
lifecycle is 409 with its reason. Each answer is the person's file after the change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
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
from shared.auth.dependency import area_for, require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import Area
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


@dataclass(frozen=True)
class _Change:
    """One change to a person's file: its transaction, the person, their cases, the time."""

    request: Request
    key: ApiKey
    conn: AsyncConnection
    person: str
    cases: list[Any]
    now: datetime

    async def record(self, action: str, **detail: str) -> None:
        """The audit row ``key_person.<action>``, in the change's transaction."""
        await audit.record(
            self.conn, self.key, f"key_person.{action}", petitioner_ref=self.person, **detail
        )

    async def answer(self) -> KeyPersonRead:
        """The person's file as the key sees it (after the commit)."""
        runtime = self.request.app.state.runtime
        async with runtime.engine.connect() as conn:
            found = await views.one_file(
                conn, runtime.deps.vault, self.person, area=area_for(self.request, self.key),
                today=registry.local_day(runtime.clock.now()),
            )  # fmt: skip
        if found is None:
            raise NotFound(NO_PERSON)
        return found


@asynccontextmanager
async def _changing(request: Request, key: ApiKey, ref: str) -> AsyncIterator[_Change]:
    """Person ``ref`` (404 unless in the key's area) in one write transaction."""
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        person, cases = await scoped_person(conn, ref, area_for(request, key))
        yield _Change(request, key, conn, person, cases, runtime.clock.now())


@router.post(
    "", response_model=KeyPersonRead, status_code=201, summary="手动列入重点人员 (enter by hand)"
)
async def enter(body: KeyPersonEnter, key: StaffKey, request: Request) -> KeyPersonRead:
    policy = request.app.state.runtime.deps.policy.key_persons
    async with _changing(request, key, body.petitioner_ref) as c:
        next_state(await registry.state_of(c.conn, c.person), "enter")
        refs = await persons.refs_of(c.conn, c.person)
        await registry.enter(
            c.conn, c.person, reason=body.reason, actor=key.actor, now=c.now,
            petitions=await views.petitions(c.conn, refs, len(c.cases)),
            review_every_days=policy.review_every_days,
        )  # fmt: skip
        await c.record("enter")
    return await c.answer()


@router.post("/{petitioner_ref}/review", response_model=KeyPersonRead, summary="复核 (review)")
async def review(
    petitioner_ref: RefPath, body: KeyPersonReview, key: StaffKey, request: Request
) -> KeyPersonRead:
    runtime = request.app.state.runtime
    today, policy = registry.local_day(runtime.clock.now()), runtime.deps.policy.key_persons
    due = body.next_review_on or review_due(today, policy.review_every_days)
    if due <= today:
        raise HTTPException(422, "下次复核日期须晚于今天 (next_review_on must be after today)")
    async with _changing(request, key, petitioner_ref) as c:
        await registry.review(
            c.conn, c.person, actor=key.actor, note=body.note, next_due=due, now=c.now
        )
        await c.record("review")
    return await c.answer()


@router.post("/{petitioner_ref}/leave", response_model=KeyPersonRead, summary="出库 (leave)")
async def leave(
    petitioner_ref: RefPath, body: KeyPersonLeave, key: StaffKey, request: Request
) -> KeyPersonRead:
    async with _changing(request, key, petitioner_ref) as c:
        await registry.leave(c.conn, c.person, actor=key.actor, reason=body.reason, now=c.now)
        await c.record("leave")
    return await c.answer()


@router.put("/{petitioner_ref}/plan", response_model=KeyPersonRead, summary="一人一策 (plan)")
async def put_plan(
    petitioner_ref: RefPath, body: PlanIn, key: StaffKey, request: Request
) -> KeyPersonRead:
    fields = body.model_dump(exclude={"team"}) | body.team.model_dump()
    async with _changing(request, key, petitioner_ref) as c:
        if await registry.plan(c.conn, c.person, fields, actor=key.actor, now=c.now):
            await c.record("plan")
    return await c.answer()


@router.post("/{petitioner_ref}/visits", response_model=KeyPersonRead, status_code=201,
             summary="走访记录 (record a visit)")  # fmt: skip
async def post_visit(
    petitioner_ref: RefPath, body: VisitIn, key: StaffKey, request: Request, response: Response
) -> KeyPersonRead:
    """A retry (same person, kind and time) records nothing new and answers 200."""
    async with _changing(request, key, petitioner_ref) as c:
        if body.case_id is not None and body.case_id not in {x.case_id for x in c.cases}:
            raise HTTPException(422, "该诉求不是此人的 (case_id is not this person's case)")
        fields = body.model_dump(mode="python")
        visit_id, new = await registry.visit(c.conn, c.person, fields, actor=key.actor, now=c.now)
        if new:
            await c.record("visit", visit_id=str(visit_id))
        else:
            response.status_code = 200
    return await c.answer()


@router.post("/{petitioner_ref}/conversions", response_model=KeyPersonRead, status_code=201,
             summary="矛盾转化 (record a conversion)")  # fmt: skip
async def post_conversion(
    petitioner_ref: RefPath, body: ConversionIn, key: StaffKey, request: Request,
    response: Response,
) -> KeyPersonRead:  # fmt: skip
    """One row per (person, role): a retry answers 200 and records nothing."""
    async with _changing(request, key, petitioner_ref) as c:
        if await registry.convert(
            c.conn, c.person, role=body.role.value, since=body.since, note=body.note,
            actor=key.actor, now=c.now,
        ):  # fmt: skip
            await c.record("convert", role=body.role.value)
        else:
            response.status_code = 200
    return await c.answer()
