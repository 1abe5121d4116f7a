"""Intake's status consumer against real PostgreSQL: the one-statement ``case.dispatched``.

Status only moves forward; the owners holding a dispatch are merged (each once, sorted);
a case intake has not stored yet is retried, never invented.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.handlers.status import on_case_dispatched
from services.intake.tables import cases
from shared.contracts.envelope import make_envelope
from shared.contracts.events import CaseDispatched, DispatchInfo, LocationData
from shared.ids import new_id
from shared.messaging.consumer import HandlerContext, RetryLater

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
WHERE = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}


def _dispatched(case_id: UUID, *owners: str) -> CaseDispatched:
    return CaseDispatched(
        case_id=case_id,
        category="property.elevator",
        title="电梯停运",
        tier="simple",
        urgency="normal",
        rule_id="r",
        ruleset_version="v",
        location=LocationData(**WHERE),
        dispatches=[
            DispatchInfo(
                dispatch_id=new_id(),
                owner_id=o,
                owner_name=o,
                role="lead" if i == 0 else "co_handler",
                acknowledge_due_at=T0 + timedelta(hours=2),
                resolve_due_at=T0 + timedelta(days=1),
            )
            for i, o in enumerate(owners)
        ],
    )


async def _store(engine: AsyncEngine, status: str, detail: dict[str, Any] | None) -> UUID:
    case_id = new_id()
    async with engine.begin() as conn:
        await conn.execute(
            insert(cases).values(
                case_id=case_id, channel="hotline_12345", category="property.elevator",
                title="电梯停运", description="d", location=WHERE, urgency="normal",
                status=status, status_detail=detail, status_at=T0, received_at=T0,
                community="c01", grid="g01", compound="k01",
            )
        )  # fmt: skip
    return case_id


async def _apply(engine: AsyncEngine, event: CaseDispatched, at: datetime) -> None:
    envelope = make_envelope(event, producer="router", occurred_at=at, case_id=event.case_id)
    async with engine.begin() as conn:
        ctx = HandlerContext(conn=conn, now=at, cause=envelope, producer="intake", deps=None)
        await on_case_dispatched(ctx, event)


async def _row(engine: AsyncEngine, case_id: UUID) -> Any:
    async with engine.connect() as conn:
        q = select(cases.c.status, cases.c.status_detail, cases.c.status_at)
        return (await conn.execute(q.where(cases.c.case_id == case_id))).one()


async def test_a_received_case_becomes_dispatched_with_its_owners(engine: AsyncEngine) -> None:
    case_id = await _store(engine, "received", None)
    await _apply(engine, _dispatched(case_id, "wy-b", "wy-a", "wy-b"), T0 + timedelta(minutes=1))
    row = await _row(engine, case_id)
    assert row.status == "dispatched"
    assert row.status_detail == {"owners": ["wy-a", "wy-b"]}
    assert row.status_at == T0 + timedelta(minutes=1)


async def test_a_late_dispatch_never_moves_a_case_back_and_keeps_what_detail_said(
    engine: AsyncEngine,
) -> None:
    detail = {"owners": ["wy-a"], "rebound_of": "x"}
    case_id = await _store(engine, "acknowledged", detail)
    await _apply(engine, _dispatched(case_id, "cg-1", "wy-a"), T0 + timedelta(minutes=5))
    row = await _row(engine, case_id)
    assert row.status == "acknowledged"
    assert row.status_at == T0  # unchanged: the status did not move
    assert row.status_detail == {"owners": ["cg-1", "wy-a"], "rebound_of": "x"}


async def test_a_dispatch_for_a_case_not_stored_yet_is_retried(engine: AsyncEngine) -> None:
    with pytest.raises(RetryLater):
        await _apply(engine, _dispatched(new_id(), "wy-a"), T0)
