"""Intake's group commit against real PostgreSQL: submissions sharing one transaction are
answered as they would be one by one (a replay of a number sent earlier in the batch, a
second petition of one matter linked to the case the first opened), and what the batch
already decided costs no statement."""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.deps import IntakeDeps
from services.intake.records import Submitted
from services.intake.schemas import CaseCreate
from services.intake.submissions import SubmissionBatcher
from services.intake.tables import case_refs, cases, duplicate_links, key_person_events
from shared.clock import SystemClock
from shared.domain.intake_rules import IntakePolicy, KeyPersonPolicy
from shared.security.pii import PiiVault
from shared.settings import Settings

pytestmark = pytest.mark.integration

WHERE = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}
# The installation's own key (the test suite's), not one of this module's: these rows
# share the session's database with the e2e services, which must be able to open them
# (a key person's list reads every key person of the area).
DEPS = IntakeDeps(vault=PiiVault(Settings().pii_key.get_secret_value()), pseudonym_key="test")
# the second petition within the window makes a key person
STRICT = IntakeDeps(
    vault=DEPS.vault,
    pseudonym_key="test",
    policy=IntakePolicy(key_persons=KeyPersonPolicy(petitions=2, window_days=365)),
)


def _body(
    number: str,
    phone: str | None,
    category: str = "property.elevator",
    id_number: str | None = None,
) -> CaseCreate:
    return CaseCreate.model_validate(
        {
            "external_id": number,
            "category": category,
            "title": "电梯停运",
            "description": "3号楼电梯停了一天。",
            "location": WHERE,
            "petitioner": {"phone": phone, "id_number": id_number},
        }
    )


def _phone() -> str:
    return f"139{secrets.randbelow(10**8):08d}"


def _id_number() -> str:
    return f"1101011990{secrets.randbelow(10**7):07d}X"


async def _together(
    engine: AsyncEngine, bodies: list[CaseCreate], deps: IntakeDeps = DEPS
) -> list[Submitted]:
    """The bodies in one group commit (one worker, queued at once: one transaction)."""
    runtime = SimpleNamespace(
        engine=engine, deps=deps, clock=SystemClock(), poke_relay=lambda: None
    )
    batcher = SubmissionBatcher(runtime, workers=1)
    try:
        results = await batcher.submit_many(channel="hotline_12345", bodies=bodies)
    finally:
        await batcher.stop()
    answers = []
    for r in results:
        assert not isinstance(r, BaseException), r
        answers.append(r[0])
    return answers


async def _alone(
    engine: AsyncEngine, bodies: list[CaseCreate], deps: IntakeDeps = DEPS
) -> list[Submitted]:
    answers = []
    for body in bodies:
        answers.extend(await _together(engine, [body], deps))
    return answers


def _shape(answers: list[Submitted]) -> list[tuple[Any, ...]]:
    """What a channel is told, with the cases named by their first answer's position."""
    first = {a.case_id: i for i, a in reversed(list(enumerate(answers)))}
    return [
        (first[a.case_id], a.created, a.status, a.duplicate_of is not None, a.key_person,
         a.case_number is not None)
        for a in answers
    ]  # fmt: skip


def _matter(tag: str) -> list[CaseCreate]:
    """A new case, its number again, a second petition of the same matter by the same
    person, that number again, and another person's case."""
    me, other = _phone(), _phone()
    return [
        _body(f"{tag}-1", me),
        _body(f"{tag}-1", me),
        _body(f"{tag}-2", me),
        _body(f"{tag}-2", me),
        _body(f"{tag}-3", other),
    ]


async def test_a_batch_answers_replays_and_second_petitions_as_one_by_one(
    engine: AsyncEngine,
) -> None:
    tag = f"B-{secrets.token_hex(4)}"
    batched = await _together(engine, _matter(tag))
    alone = await _alone(engine, _matter(f"A-{secrets.token_hex(4)}"))
    assert _shape(batched) == _shape(alone)
    assert _shape(batched) == [
        (0, True, "received", False, False, True),
        (0, False, "received", False, False, True),  # the replay of the first
        (0, False, "received", True, False, True),  # linked to the case the first opened
        (0, False, "received", True, False, True),  # the replay of the link
        (4, True, "received", False, False, True),
    ]
    first, _, linked, again, _ = batched
    assert linked.case_number == again.case_number == first.case_number
    async with engine.connect() as conn:
        refs = (
            await conn.execute(
                select(case_refs.c.ref, case_refs.c.case_id, case_refs.c.linked)
                .where(case_refs.c.ref.like(f"{tag}-%"))
                .order_by(case_refs.c.ref)
            )
        ).all()
        links = await conn.scalar(
            select(func.count())
            .select_from(duplicate_links)
            .where(duplicate_links.c.ref == f"{tag}-2")
        )
    assert [(r.ref, r.case_id, r.linked) for r in refs][:2] == [
        (f"{tag}-1", first.case_id, False),
        (f"{tag}-2", first.case_id, True),
    ]
    assert links == 1


def _persons(tag: str) -> list[CaseCreate]:
    """One person petitioning on three matters (twice the same), a replay; another person
    giving a phone and an ID number, then the ID number alone (one person, 一人多号)."""
    me, phone, idn = _phone(), _phone(), _id_number()
    return [
        _body(f"{tag}-1", me),
        _body(f"{tag}-2", me, "property.repair"),
        _body(f"{tag}-3", me),
        _body(f"{tag}-2", me, "property.repair"),
        _body(f"{tag}-4", phone, id_number=idn),
        _body(f"{tag}-5", None, "property.repair", id_number=idn),
    ]


async def test_a_batch_counts_a_persons_earlier_petitions_toward_key_person_as_one_by_one(
    engine: AsyncEngine,
) -> None:
    tag = f"K-{secrets.token_hex(4)}"
    batched = await _together(engine, _persons(tag), STRICT)
    alone = await _alone(engine, _persons(f"L-{secrets.token_hex(4)}"), STRICT)
    assert _shape(batched) == _shape(alone)
    assert [(a.created, a.key_person) for a in batched] == [
        (True, False),
        (True, True),  # the second petition enters the person
        (False, True),  # linked to the first, a key person already
        (False, True),  # the replay of the second
        (True, False),
        (True, True),  # the ID number is the same person as the phone before
    ]
    async with engine.connect() as conn:
        mine = select(cases.c.petitioner_ref).where(cases.c.external_id.like(f"{tag}-%"))
        entered = await conn.scalar(
            select(func.count())
            .select_from(key_person_events)
            .where(
                key_person_events.c.action == "entered",
                key_person_events.c.petitioner_ref.in_(mine.scalar_subquery()),
            )
        )
    assert entered == 2  # once per person


async def test_numbers_sent_again_within_a_batch_cost_no_statement(engine: AsyncEngine) -> None:
    async def statements(repeats: int) -> int:
        tag, phone = f"S-{secrets.token_hex(4)}", _phone()
        bodies = [_body(f"{tag}-1", phone) for _ in range(1 + repeats)]
        seen: list[str] = []
        listener = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(engine.sync_engine, "before_cursor_execute", listener)
        try:
            answers = await _together(engine, bodies)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", listener)
        assert len({a.case_id for a in answers}) == 1
        return len(seen)

    assert await statements(20) == await statements(1)
