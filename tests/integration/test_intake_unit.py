"""Intake's unit of work against real PostgreSQL: a number another transaction claims
between the unit's reads and its writes is never recorded twice.

The unit reads every submission's numbers up front and writes them at the flush; a
racing transaction that records one of them in between makes the flush refuse
(``RefConflict``), the transaction rolls back whole, and the group commit runs the
submission again, where it is answered as a replay of the racer's case.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.deps import IntakeDeps
from services.intake.records import RefConflict
from services.intake.schemas import CaseCreate
from services.intake.service import plan, submit_case
from services.intake.submissions import SubmissionBatcher
from services.intake.tables import case_refs, cases
from services.intake.unit import Unit
from shared.clock import SystemClock
from shared.contracts.envelope import Envelope
from shared.ids import new_id
from shared.security.pii import PiiVault

pytestmark = pytest.mark.integration

WHERE = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}
DEPS = IntakeDeps(vault=PiiVault(Fernet.generate_key().decode()), pseudonym_key="test")


def _body(number: str) -> CaseCreate:
    return CaseCreate.model_validate(
        {
            "external_id": number,
            "category": "property.elevator",
            "title": "电梯停运",
            "description": "3号楼电梯停了一天。",
            "location": WHERE,
            "petitioner": {"phone": f"139{secrets.randbelow(10**8):08d}"},
        }
    )


async def _racer_records(engine: AsyncEngine, number: str) -> UUID:
    """Another transaction stores a case under ``number`` and commits."""
    case_id, now = new_id(), datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(cases).values(
                case_id=case_id, channel="hotline_12345", external_id=number,
                category="property.elevator", title="电梯停运", description="先到的一件",
                location=WHERE, urgency="normal", status="received", status_at=now,
                received_at=now, compound="d01/s01/c01/g01/k01",
            )
        )  # fmt: skip
        await conn.execute(
            insert(case_refs).values(
                channel="hotline_12345", ref=number, kind="external_id", case_id=case_id
            )
        )
    return case_id


async def _stored(engine: AsyncEngine, number: str) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                select(func.count()).select_from(cases).where(cases.c.external_id == number)
            )
            or 0
        )


async def test_a_number_claimed_between_the_reads_and_the_flush_refuses_and_writes_nothing(
    engine: AsyncEngine,
) -> None:
    number = f"RACE-{secrets.token_hex(4)}"
    planned = plan(DEPS, "hotline_12345", _body(number), None, datetime.now(UTC))
    events: list[Envelope] = []
    with pytest.raises(RefConflict):
        async with engine.begin() as conn:
            unit = Unit(conn, DEPS.policy)
            await unit.prefetch([planned])
            racer = await _racer_records(engine, number)
            answer, _ = await submit_case(unit, deps=DEPS, planned=planned, stage=events)
            assert answer.created  # decided on what was read: a new case
            await unit.flush()
    assert await _stored(engine, number) == 1  # the racer's only
    async with engine.connect() as conn:
        owner = await conn.scalar(select(case_refs.c.case_id).where(case_refs.c.ref == number))
    assert owner == racer


async def test_the_group_commit_answers_a_number_claimed_meanwhile_as_a_replay(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = f"RACE-{secrets.token_hex(4)}"
    racer: list[UUID] = []
    prefetch = Unit.prefetch

    async def racing_prefetch(self: Unit, *args: Any) -> None:
        await prefetch(self, *args)
        if not racer:  # the first try only: the racer commits right after the reads
            racer.append(await _racer_records(engine, number))

    monkeypatch.setattr(Unit, "prefetch", racing_prefetch)
    runtime = SimpleNamespace(
        engine=engine, deps=DEPS, clock=SystemClock(), poke_relay=lambda: None
    )
    batcher = SubmissionBatcher(runtime, workers=1)
    try:
        answer, staged = await batcher.submit(
            channel="hotline_12345", body=_body(number), idempotency_key=None
        )
    finally:
        await batcher.stop()
    assert (answer.case_id, answer.created, staged) == (racer[0], False, False)
    assert await _stored(engine, number) == 1
