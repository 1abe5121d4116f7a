"""The router's batches against real PostgreSQL: optimistic inserts, exact second pass.

In a batch the router writes a new case as part of the batch's array insert, without
first asking whether it is stored. A ``case.received`` for a case already stored (sent
again under a new event id) makes that insert fail; the batch rolls back whole and
every event is applied again alone, where the stored case is left alone. Nothing is
dispatched twice and nothing is lost.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.router.app import create_app
from services.router.tables import cases, dispatches
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events import CaseReceived, LocationData
from shared.ids import new_id
from shared.messaging.consumer import EventConsumer
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.integration

WHERE = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}


def _received(case_id: UUID) -> Envelope:
    event = CaseReceived(
        case_id=case_id,
        channel="hotline_12345",
        category="property.elevator",
        title="电梯停运",
        description="3号楼电梯停了一天。",
        location=LocationData(**WHERE),
        urgency="normal",
    )
    return make_envelope(event, producer="intake", occurred_at=datetime.now(UTC), case_id=case_id)


async def _counts(engine: AsyncEngine, ids: list[UUID]) -> tuple[int, int]:
    async with engine.connect() as conn:
        stored = await conn.scalar(
            select(func.count()).select_from(cases).where(cases.c.case_id.in_(ids))
        )
        leads = await conn.scalar(
            select(func.count())
            .select_from(dispatches)
            .where(dispatches.c.case_id.in_(ids), dispatches.c.role == "lead")
        )
    return int(stored or 0), int(leads or 0)


def _consumer(runtime: Any, engine: AsyncEngine, batch_size: int) -> EventConsumer:
    return EventConsumer(
        name="router",
        queue_name="unused",
        engine=engine,
        inbox=runtime.inbox,
        outbox=runtime.outbox,
        handlers=runtime.handlers,
        clock=runtime.clock,
        deps=runtime.deps,
        dead_letters=None,  # type: ignore[arg-type]
        resend=None,  # type: ignore[arg-type]
        batch_size=batch_size,
        workers=1,
    )


async def _apply(consumer: EventConsumer, sent: list[Envelope]) -> list[str]:
    """Queue the events at once (one lane, so one batch up to the batch size)."""
    return list(
        await asyncio.gather(
            *(consumer._enqueue(e, consumer._parse_envelope(lambda e=e: e)[1]) for e in sent)
        )
    )


async def test_a_case_sent_again_under_a_new_event_id_in_one_batch_is_dispatched_once(
    stack: StackUnderTest, engine: AsyncEngine
) -> None:
    runtime = create_app(stack.settings(service_name="router")).state.runtime
    consumer = _consumer(runtime, engine, batch_size=20)
    a, b, c = new_id(), new_id(), new_id()
    sent = [_received(a), _received(b), _received(a), _received(c)]  # a's again: new event id
    try:
        outcomes = await _apply(consumer, sent)
    finally:
        await consumer.stop()
        await runtime.engine.dispose()
    assert outcomes == ["applied"] * 4  # the second a: applied, and it changed nothing
    assert await _counts(engine, [a, b, c]) == (3, 3)  # three cases, one lead dispatch each


@pytest.mark.parametrize("batch_size", [1, 20])
async def test_a_case_sent_again_alone_is_applied_and_changes_nothing(
    stack: StackUnderTest, engine: AsyncEngine, batch_size: int
) -> None:
    """Alone (a batch of one, or batches switched off) there is no second pass to fall
    back on, so the router checks before it writes, as without batches."""
    runtime = create_app(stack.settings(service_name="router")).state.runtime
    consumer = _consumer(runtime, engine, batch_size=batch_size)
    a = new_id()
    try:
        first = await _apply(consumer, [_received(a)])
        again = await _apply(consumer, [_received(a)])
    finally:
        await consumer.stop()
        await runtime.engine.dispose()
    assert (first, again) == (["applied"], ["applied"])
    assert await _counts(engine, [a]) == (1, 1)


@pytest.mark.parametrize("batch_size", [1, 20])
async def test_a_new_case_is_stored_with_its_dispatches_nearest_due_time(
    stack: StackUnderTest, engine: AsyncEngine, batch_size: int
) -> None:
    """The overdue list sorts by ``next_due_at``: a new case carries its dispatches'
    nearest acknowledgement due from its first write (the router computes it with the
    row, so the dispatches' trigger has nothing to rewrite), alone or in a batch."""
    runtime = create_app(stack.settings(service_name="router")).state.runtime
    consumer = _consumer(runtime, engine, batch_size=batch_size)
    ids = [new_id(), new_id()]
    try:
        assert await _apply(consumer, [_received(i) for i in ids]) == ["applied"] * 2
    finally:
        await consumer.stop()
        await runtime.engine.dispose()
    async with engine.connect() as conn:
        for case_id in ids:
            stored = await conn.scalar(
                select(cases.c.next_due_at).where(cases.c.case_id == case_id)
            )
            due = await conn.scalar(
                select(func.min(dispatches.c.acknowledge_due_at)).where(
                    dispatches.c.case_id == case_id
                )
            )
            assert due is not None and stored == due
