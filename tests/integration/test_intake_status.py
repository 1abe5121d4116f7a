"""Intake's status consumer against real PostgreSQL: the one-statement ``case.dispatched``.

Status only moves forward; the owners holding a live dispatch are merged (each once,
sorted), and a returned or cancelled dispatch ends for good; a case intake has not stored
yet is retried, never invented.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.api.contact import live_owners
from services.intake.handlers.registry import HANDLERS
from services.intake.tables import cases
from shared.contracts.envelope import make_envelope
from shared.contracts.events import (
    CaseClosed,
    CaseDispatched,
    CaseResolved,
    DispatchAcknowledged,
    DispatchCancelled,
    DispatchInfo,
    DispatchReturned,
    LocationData,
)
from shared.db.batch import Deferred, flush_deferred
from shared.domain.intake_status import IntakeCase
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


@pytest.fixture(params=[False, True], ids=["alone", "batched"])
def batched(request: pytest.FixtureRequest) -> bool:
    """Each test runs both ways: an event alone (its own statement) and in a consumer
    batch (the batch's one array statement at the flush)."""
    return bool(request.param)


async def _apply(engine: AsyncEngine, event: CaseDispatched, at: datetime, batched: bool) -> None:
    await _apply_many(engine, [(event, at)], batched)


async def _apply_many(
    engine: AsyncEngine, events: list[tuple[CaseDispatched, datetime]], batched: bool
) -> None:
    """The events in one transaction, as a consumer batch applies them."""
    deferred = Deferred()
    async with engine.begin() as conn:
        for event, at in events:
            envelope = make_envelope(
                event, producer="router", occurred_at=at, case_id=event.case_id
            )
            ctx = HandlerContext(
                conn=conn, now=at, cause=envelope, producer="intake", deps=None,
                deferred=deferred, batched=batched,
            )  # fmt: skip
            await HANDLERS[CaseDispatched](ctx, event)
        await flush_deferred(conn, deferred)


async def _row(engine: AsyncEngine, case_id: UUID) -> Any:
    async with engine.connect() as conn:
        q = select(cases.c.status, cases.c.status_detail, cases.c.status_at)
        return (await conn.execute(q.where(cases.c.case_id == case_id))).one()


async def test_a_received_case_becomes_dispatched_with_its_owners(
    engine: AsyncEngine, batched: bool
) -> None:
    case_id = await _store(engine, "received", None)
    await _apply(
        engine, _dispatched(case_id, "wy-b", "wy-a", "wy-b"), T0 + timedelta(minutes=1), batched
    )
    row = await _row(engine, case_id)
    assert row.status == "dispatched"
    assert row.status_detail == {"owners": ["wy-a", "wy-b"], "lead": "wy-b"}
    assert row.status_at == T0 + timedelta(minutes=1)


async def test_a_late_dispatch_never_moves_a_case_back_and_keeps_what_detail_said(
    engine: AsyncEngine, batched: bool
) -> None:
    detail = {"owners": ["wy-a"], "rebound_of": "x"}
    case_id = await _store(engine, "acknowledged", detail)
    await _apply(engine, _dispatched(case_id, "cg-1", "wy-a"), T0 + timedelta(minutes=5), batched)
    row = await _row(engine, case_id)
    assert row.status == "acknowledged"
    assert row.status_at == T0  # unchanged: the status did not move
    assert row.status_detail == {"owners": ["cg-1", "wy-a"], "rebound_of": "x", "lead": "cg-1"}


async def test_a_dispatch_for_a_case_not_stored_yet_is_retried(
    engine: AsyncEngine, batched: bool
) -> None:
    with pytest.raises(RetryLater):
        await _apply(engine, _dispatched(new_id(), "wy-a"), T0, batched)


async def test_a_batch_updates_each_case_with_its_own_owners_and_time(
    engine: AsyncEngine,
) -> None:
    ids = [await _store(engine, s, None) for s in ("received", "received", "in_progress")]
    at = [T0 + timedelta(minutes=m) for m in (1, 2, 3)]
    await _apply_many(
        engine,
        [(_dispatched(ids[0], "wy-a"), at[0]), (_dispatched(ids[1], "cg-1", "wy-b"), at[1]),
         (_dispatched(ids[2], "wy-c"), at[2])],
        batched=True,
    )  # fmt: skip
    rows = [await _row(engine, i) for i in ids]
    assert [(r.status, r.status_at) for r in rows] == [
        ("dispatched", at[0]),
        ("dispatched", at[1]),
        ("in_progress", T0),  # ahead already: only its owners change
    ]
    assert [r.status_detail["owners"] for r in rows] == [["wy-a"], ["cg-1", "wy-b"], ["wy-c"]]


async def test_a_batch_with_one_case_not_stored_yet_applies_nothing_and_is_retried(
    engine: AsyncEngine,
) -> None:
    """The consumer then applies the batch's events one by one: the early one alone
    waits for its case, the others are applied."""
    known = await _store(engine, "received", None)
    with pytest.raises(RetryLater):
        await _apply_many(
            engine,
            [(_dispatched(known, "wy-a"), T0), (_dispatched(new_id(), "wy-b"), T0)],
            batched=True,
        )
    assert (await _row(engine, known)).status == "received"  # rolled back with the batch


async def _end(engine: AsyncEngine, case_id: UUID, dispatch: DispatchInfo, kind: str) -> None:
    """A ``dispatch.returned`` (or ``dispatch.cancelled``) of ``dispatch``, applied alone."""
    event: DispatchReturned | DispatchCancelled
    if kind == "returned":
        event = DispatchReturned(
            case_id=case_id, dispatch_id=dispatch.dispatch_id, owner_id=dispatch.owner_id,
            role=dispatch.role, reason_code="not_our_jurisdiction", note="非本单位职责",
            returns_on_case=1, next_step="rerouted",
        )  # fmt: skip
    else:
        event = DispatchCancelled(
            case_id=case_id, dispatch_id=dispatch.dispatch_id, owner_id=dispatch.owner_id,
            reason="改派",
        )  # fmt: skip
    async with engine.begin() as conn:
        envelope = make_envelope(event, producer="router", occurred_at=T0, case_id=case_id)
        ctx = HandlerContext(
            conn=conn, now=T0, cause=envelope, producer="intake", deps=None,
            deferred=Deferred(), batched=False,
        )  # fmt: skip
        await HANDLERS[type(event)](ctx, event)


@pytest.mark.parametrize("kind", ["returned", "cancelled"])
async def test_an_ended_dispatch_no_longer_holds_the_case_even_if_its_start_comes_again(
    engine: AsyncEngine, batched: bool, kind: str
) -> None:
    case_id = await _store(engine, "received", None)
    first = _dispatched(case_id, "wy-a", "cg-1")
    await _apply(engine, first, T0, batched)
    await _end(engine, case_id, first.dispatches[0], kind)
    row = await _row(engine, case_id)
    assert row.status_detail == {"owners": ["cg-1"]}  # the lead returned: no lead named
    await _apply(engine, first, T0 + timedelta(minutes=1), batched)  # redelivered
    assert (await _row(engine, case_id)).status_detail == {"owners": ["cg-1"]}
    again = _dispatched(case_id, "wy-b")
    await _apply(engine, again, T0 + timedelta(minutes=2), batched)
    row = await _row(engine, case_id)
    assert row.status_detail == {"owners": ["cg-1", "wy-b"], "lead": "wy-b"}
    async with engine.connect() as conn:
        holders = await conn.scalar(select(cases.c.holders).where(cases.c.case_id == case_id))
    assert live_owners(holders, row.status_detail) == {"cg-1", "wy-b"}


async def test_a_case_dispatched_before_holders_were_kept_ends_by_owner(
    engine: AsyncEngine,
) -> None:
    """Migration intake_0005 keys an old case's owners by themselves."""
    case_id = await _store(engine, "dispatched", {"owners": ["cg-1", "wy-a"]})
    async with engine.begin() as conn:
        await conn.execute(
            cases.update()
            .where(cases.c.case_id == case_id)
            .values(holders={"cg-1": "cg-1", "wy-a": "wy-a"})
        )
    await _end(engine, case_id, _dispatched(case_id, "wy-a").dispatches[0], "returned")
    assert (await _row(engine, case_id)).status_detail == {"owners": ["cg-1"]}


@pytest.mark.parametrize("status", ["resolved", "rated", "closed"])
async def test_a_late_acknowledgement_never_moves_a_case_back(
    engine: AsyncEngine, status: str
) -> None:
    """A ``dispatch.acknowledged`` sent on alone to the queue's tail may come after the
    petitioner rated the case: the channel still sees it rated, not 已签收."""
    case_id = await _store(engine, status, {"owners": ["wy-a"]})
    event = DispatchAcknowledged(
        case_id=case_id, dispatch_id=new_id(), owner_id="wy-a",
        acknowledged_at=T0, actor="wy-a",
    )  # fmt: skip
    async with engine.begin() as conn:
        envelope = make_envelope(event, producer="router", occurred_at=T0, case_id=case_id)
        ctx = HandlerContext(
            conn=conn, now=T0 + timedelta(hours=1), cause=envelope, producer="intake",
            deps=None, deferred=Deferred(), batched=False,
        )  # fmt: skip
        await HANDLERS[DispatchAcknowledged](ctx, event)
    row = await _row(engine, case_id)
    assert (row.status, row.status_at) == (status, T0)


async def _statements(engine: AsyncEngine, event: CaseResolved | CaseClosed) -> list[str]:
    """The statements ``event``'s handler runs, applied alone (the inbox is the consumer's)."""
    ran: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        ran.append(statement.split()[0])

    async with engine.begin() as conn:
        envelope = make_envelope(event, producer="router", occurred_at=T0, case_id=event.case_id)
        ctx = HandlerContext(
            conn=conn, now=T0 + timedelta(hours=1), cause=envelope, producer="intake",
            deps=None, deferred=Deferred(), batched=False,
        )  # fmt: skip
        sa_event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            await HANDLERS[type(event)](ctx, event)
        finally:
            sa_event.remove(engine.sync_engine, "before_cursor_execute", record)
    return ran


async def test_a_resolution_and_a_closure_are_a_locked_read_and_one_update(
    engine: AsyncEngine,
) -> None:
    case_id = await _store(engine, "acknowledged", {"owners": ["wy-a"], "lead": "wy-a"})
    resolved = CaseResolved(case_id=case_id, outcome="resolved", summary="已修复",
                            lead_owner_id="wy-a")  # fmt: skip
    assert await _statements(engine, resolved) == ["SELECT", "UPDATE"]
    row = await _row(engine, case_id)
    assert row.status == "resolved"
    assert row.status_detail["result"]["summary"] == "已修复"
    closed = CaseClosed(case_id=case_id, kind="resolved", rating="satisfied")
    assert await _statements(engine, closed) == ["SELECT", "UPDATE"]
    row = await _row(engine, case_id)
    assert (row.status, row.status_detail["close_kind"]) == ("closed", "resolved")
    assert row.status_detail["result"]["summary"] == "已修复"


ENDED, LIVE = str(new_id()), str(new_id())


@pytest.mark.parametrize("status", ["received", "dispatched", "rated", "closed"])
@pytest.mark.parametrize(
    ("holders", "detail"),
    [
        (None, None),
        ({ENDED: None, LIVE: "cg-1"}, {"owners": ["cg-1"], "rebound_of": "x"}),
        ({"wy-a": "wy-a"}, {"owners": ["wy-a"], "lead": "wy-a"}),  # before holders were kept
    ],
    ids=["new", "one-ended", "by-owner"],
)
async def test_the_dispatched_statement_applies_the_aggregates_rule(
    engine: AsyncEngine, batched: bool, status: str, holders: Any, detail: Any
) -> None:
    """The in-memory unit applies IntakeCase.dispatched where PostgreSQL runs the batch
    statement: both give the same row."""
    case_id = await _store(engine, status, detail)
    async with engine.begin() as conn:
        await conn.execute(cases.update().where(cases.c.case_id == case_id).values(holders=holders))
    event = _dispatched(case_id, "wy-b", "wy-a")
    lead = event.dispatches[0].model_copy(update={"dispatch_id": UUID(ENDED)})
    event = event.model_copy(update={"dispatches": [lead, event.dispatches[1]]})  # end first
    at = T0 + timedelta(minutes=1)
    await _apply(engine, event, at, batched)
    case = IntakeCase(case_id, status, T0, dict(detail or {}), dict(holders or {}))
    case.dispatched({str(d.dispatch_id): d.owner_id for d in event.dispatches}, "wy-b", at)
    async with engine.connect() as conn:
        q = select(cases.c.status, cases.c.status_at, cases.c.status_detail, cases.c.holders)
        row = (await conn.execute(q.where(cases.c.case_id == case_id))).one()
    assert tuple(row) == (case.status, case.status_at, case.detail, case.holders)
