"""Intake's handlers on an in-memory unit of work: what each decides and what its unit
would write, in milliseconds.

The real-stack tests (tests/integration/test_intake_status.py, tests/e2e/test_first_case.py,
test_feedback.py, test_returned_dispatch_contact.py, test_triage.py) cover the same paths
through PostgreSQL and RabbitMQ.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from services.intake.handlers.registry import HANDLERS
from shared.contracts.events import (
    CaseClassified,
    CaseClosed,
    CaseDispatched,
    CaseReopened,
    CaseResolved,
    DispatchAcknowledged,
    DispatchCancelled,
    DispatchInfo,
    DispatchReturned,
    LocationData,
)
from shared.domain.intake_status import IntakeCase
from shared.ids import new_id
from shared.messaging.consumer import RetryLater
from tests.support.fake_intake_unit import FakeIntakeUnit

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
PLACE = LocationData(district="d01", street="d01.s01", community="d01.s01.c01",
                     grid="d01.s01.c01.g01")  # fmt: skip


async def _handle(event: object, *cases: IntakeCase) -> FakeIntakeUnit:
    """The handler the registry holds (wrapped, so the unit commits), on a fake unit."""
    uow = FakeIntakeUnit(None, NOW, event, cases=cases)  # type: ignore[arg-type]
    await inspect.unwrap(HANDLERS[type(event)])(uow, event)  # type: ignore[index]
    await uow.commit()
    return uow


def _case(status: str, **kw: object) -> IntakeCase:
    return IntakeCase(new_id(), status, T0, **kw)  # type: ignore[arg-type]


def _dispatched(case_id: UUID, *owners: str) -> CaseDispatched:
    return CaseDispatched(
        case_id=case_id, category="property.elevator", title="电梯停运", tier="simple",
        urgency="normal", rule_id="r", ruleset_version="v", location=PLACE,
        dispatches=[
            DispatchInfo(dispatch_id=new_id(), owner_id=o, owner_name=o,
                         role="lead" if i == 0 else "co_handler",
                         acknowledge_due_at=T0, resolve_due_at=T0)
            for i, o in enumerate(owners)
        ],
    )  # fmt: skip


async def test_a_dispatch_makes_the_case_dispatched_with_its_holders_in_one_update() -> None:
    case = _case("received")
    event = _dispatched(case.case_id, "wy-a", "cg-1")
    uow = await _handle(event, case)
    holders = {str(d.dispatch_id): d.owner_id for d in event.dispatches}
    assert uow.memory_cases.updates == [(case.case_id, {
        "status": "dispatched", "status_at": NOW, "holders": holders,
        "status_detail": {"owners": ["cg-1", "wy-a"], "lead": "wy-a"},
    })]  # fmt: skip


async def test_an_acknowledgement_moves_a_dispatched_case_on() -> None:
    case = _case("dispatched")
    event = DispatchAcknowledged(case_id=case.case_id, dispatch_id=new_id(), owner_id="wy-a",
                                 acknowledged_at=T0, actor="wy-a")  # fmt: skip
    uow = await _handle(event, case)
    assert uow.memory_cases.updates == [
        (case.case_id, {"status": "acknowledged", "status_at": NOW})
    ]


async def test_a_late_acknowledgement_of_a_rated_case_writes_nothing() -> None:
    case = _case("rated")
    event = DispatchAcknowledged(case_id=case.case_id, dispatch_id=new_id(), owner_id="wy-a",
                                 acknowledged_at=T0, actor="wy-a")  # fmt: skip
    uow = await _handle(event, case)
    assert uow.memory_cases.updates == []


async def test_a_resolution_is_one_update_of_status_and_result() -> None:
    case = _case("acknowledged", detail={"owners": ["wy-a"], "lead": "wy-a"})
    event = CaseResolved(case_id=case.case_id, outcome="resolved", summary="已修复",
                         lead_owner_id="wy-a")  # fmt: skip
    uow = await _handle(event, case)
    result = {"outcome": "resolved", "summary": "已修复", "lead_owner_id": "wy-a",
              "at": NOW.isoformat()}  # fmt: skip
    assert uow.memory_cases.updates == [(case.case_id, {
        "status": "resolved", "status_at": NOW,
        "status_detail": {"owners": ["wy-a"], "lead": "wy-a", "result": result},
    })]  # fmt: skip


async def test_a_closure_is_one_update_of_status_and_kind() -> None:
    case = _case("rated", detail={"rating": "satisfied"})
    uow = await _handle(CaseClosed(case_id=case.case_id, kind="resolved", rating="satisfied"),
                        case)  # fmt: skip
    assert uow.memory_cases.updates == [(case.case_id, {
        "status": "closed", "status_at": NOW,
        "status_detail": {"rating": "satisfied", "close_kind": "resolved"},
    })]  # fmt: skip


@pytest.mark.parametrize(("status", "writes"), [("rated", 1), ("resolved", 1), ("closed", 0)])
async def test_a_reopening_redispatches_a_rated_or_resolved_case(status: str, writes: int) -> None:
    case = _case(status)
    event = CaseReopened(case_id=case.case_id, rating="unsatisfied", lead_owner_id="sq-1")
    uow = await _handle(event, case)
    assert len(uow.memory_cases.updates) == writes
    assert case.status == ("dispatched" if writes else status)


@pytest.mark.parametrize("kind", ["returned", "cancelled"])
async def test_an_ended_dispatch_no_longer_holds_the_case(kind: str) -> None:
    lead, co = new_id(), new_id()
    case = _case("dispatched", holders={str(lead): "wy-a", str(co): "cg-1"},
                 detail={"owners": ["cg-1", "wy-a"], "lead": "wy-a"})  # fmt: skip
    event: DispatchReturned | DispatchCancelled
    if kind == "returned":
        event = DispatchReturned(case_id=case.case_id, dispatch_id=lead, owner_id="wy-a",
                                 role="lead", reason_code="not_our_jurisdiction", note="非本单位",
                                 returns_on_case=1, next_step="rerouted")  # fmt: skip
    else:
        event = DispatchCancelled(case_id=case.case_id, dispatch_id=lead, owner_id="wy-a",
                                  reason="改派")  # fmt: skip
    uow = await _handle(event, case)
    assert uow.memory_cases.updates == [(case.case_id, {
        "holders": {str(lead): None, str(co): "cg-1"}, "status_detail": {"owners": ["cg-1"]},
    })]  # fmt: skip


async def test_a_classification_sets_the_matter_and_the_places() -> None:
    case = _case("received")
    event = CaseClassified(case_id=case.case_id, kind="triage", category="property.elevator",
                           location=PLACE, previous_category="other", previous_location=PLACE,
                           decided_by="dispatcher", reason="人工分拣")  # fmt: skip
    uow = await _handle(event, case)
    (cid, values), *rest = uow.memory_cases.updates
    assert (cid, rest) == (case.case_id, [])
    assert (values["category"], values["grid"]) == ("property.elevator", "d01.s01.c01.g01")


@pytest.mark.parametrize("event", [
    CaseResolved(case_id=new_id(), outcome="resolved", summary="s", lead_owner_id="wy-a"),
    CaseClosed(case_id=new_id(), kind="resolved"),
    CaseReopened(case_id=new_id(), rating="unsatisfied", lead_owner_id="sq-1"),
    DispatchAcknowledged(case_id=new_id(), dispatch_id=new_id(), owner_id="wy-a",
                         acknowledged_at=T0, actor="wy-a"),
    DispatchCancelled(case_id=new_id(), dispatch_id=new_id(), owner_id="wy-a", reason="改派"),
    _dispatched(new_id(), "wy-a"),
    CaseClassified(case_id=new_id(), kind="triage", category="c", location=PLACE,
                   previous_category="o", previous_location=PLACE, decided_by="d", reason="r"),
], ids=lambda e: type(e).__name__)  # fmt: skip
async def test_an_event_for_a_case_intake_has_not_stored_is_retried(event: object) -> None:
    with pytest.raises(RetryLater, match="not yet stored by intake"):
        await _handle(event)
