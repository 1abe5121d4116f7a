"""The notifier's batches against real PostgreSQL: a case's facts read once per batch.

In a batch the notifier reads the facts of every case of the batch in one statement and
sets what it learns (the tier of a dispatch) in one array update at the flush. A case
whose ``case.received`` is in the same batch is read after the flush instead. Either way
each dispatch gets its delivery and each case its tier.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.app import create_app
from services.notifier.tables import case_facts, deliveries
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events import CaseDispatched, CaseReceived, DispatchInfo, LocationData
from shared.ids import new_id
from shared.messaging.consumer import EventConsumer
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.integration

WHERE = LocationData(district="d01", street="s01", community="c01", grid="g01", compound="k01")
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _received(case_id: UUID) -> Envelope:
    event = CaseReceived(
        case_id=case_id, channel="hotline_12345", category="property.elevator",
        title="电梯停运", description="3号楼电梯停了一天。", location=WHERE, urgency="normal",
    )  # fmt: skip
    return make_envelope(event, producer="intake", occurred_at=T0, case_id=case_id)


def _dispatched(case_id: UUID, tier: str) -> Envelope:
    event = CaseDispatched(
        case_id=case_id, category="property.elevator", title="电梯停运", tier=tier,
        urgency="normal", rule_id="r", ruleset_version="v", location=WHERE,
        dispatches=[
            DispatchInfo(
                dispatch_id=new_id(), owner_id="wy-jinxiu", owner_name="锦绣物业", role="lead",
                acknowledge_due_at=T0 + timedelta(hours=2), resolve_due_at=T0 + timedelta(days=1),
            )
        ],
    )  # fmt: skip
    return make_envelope(event, producer="router", occurred_at=T0, case_id=case_id)


async def _apply(consumer: EventConsumer, sent: list[Envelope]) -> list[str]:
    return list(
        await asyncio.gather(
            *(consumer._enqueue(e, consumer._parse_envelope(lambda e=e: e)[1]) for e in sent)
        )
    )


async def _state(engine: AsyncEngine, ids: list[UUID]) -> tuple[list[Any], int]:
    async with engine.connect() as conn:
        tiers = (
            await conn.execute(
                select(case_facts.c.case_id, case_facts.c.tier).where(case_facts.c.case_id.in_(ids))
            )
        ).all()
        made = await conn.scalar(  # the lead's (a channel callback may come too)
            select(func.count())
            .select_from(deliveries)
            .where(deliveries.c.case_id.in_(ids), deliveries.c.owner_id == "wy-jinxiu")
        )
    by_id = dict(tiers)
    return [by_id.get(i) for i in ids], int(made or 0)


async def test_a_batch_reads_its_cases_facts_once_and_learns_each_tier(
    stack: StackUnderTest, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = create_app(stack.settings(service_name="notifier")).state.runtime
    consumer = EventConsumer(
        name="notifier", queue_name="unused", engine=engine, inbox=runtime.inbox,
        outbox=runtime.outbox, handlers=runtime.handlers, clock=runtime.clock,
        deps=runtime.deps, dead_letters=None, resend=None,  # type: ignore[arg-type]
        batch_size=20, workers=1,
    )  # fmt: skip

    async def no_second_pass(batch: object) -> None:
        raise AssertionError("the batch failed and went to its second pass")

    monkeypatch.setattr(consumer, "_one_by_one", no_second_pass)  # the batch path itself
    known, fresh, other = new_id(), new_id(), new_id()
    try:
        assert await _apply(consumer, [_received(known), _received(other)]) == ["applied"] * 2
        batch = [
            _dispatched(known, "complex"),  # facts stored before: read with the batch's
            _received(fresh),
            _dispatched(fresh, "simple"),  # its facts are pending: flushed, then read
            _dispatched(other, "difficult"),
        ]
        outcomes = await _apply(consumer, batch)
    finally:
        await consumer.stop()
        await runtime.engine.dispose()
    assert outcomes == ["applied"] * 4
    tiers, made = await _state(engine, [known, fresh, other])
    assert tiers == ["complex", "simple", "difficult"]
    assert made == 3  # one delivery per dispatch
