"""The router's handlers on an in-memory unit of work: their decisions, in milliseconds.

The real-stack tests (tests/e2e/test_feedback.py, test_escalation.py) cover the same
paths through PostgreSQL and RabbitMQ; these pin what a handler decides and what its
unit would write.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.router.deps import RouterDeps
from services.router.handlers.extension_decided import on_extension_decided
from services.router.handlers.feedback_received import on_feedback_received
from shared.contracts.events import (
    CaseClosed,
    CaseDispatched,
    CaseReopened,
    ExtensionDecided,
    FeedbackReceived,
)
from shared.domain.case import Case
from shared.domain.dispatch import Dispatch
from shared.domain.lifecycle import CaseState, DispatchRole, DispatchState
from shared.ids import new_id
from shared.messaging.consumer import RetryLater
from shared.settings import Settings
from tests.support.fake_router_unit import FakeUnit

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PLACE = {"district": "d01", "street": "d01.s01", "community": "d01.s01.c01",
         "grid": "d01.s01.c01.g01", "compound": None}  # fmt: skip


@pytest.fixture(scope="module")
def deps() -> RouterDeps:
    return RouterDeps.load(Settings())


def _waiting_case(*, second: bool = False) -> Case:
    return Case(case_id=new_id(), state=CaseState.AWAITING_FEEDBACK, version=7,
                ruleset_version="r1", category="property.elevator", location=dict(PLACE),
                urgency="normal", title="电梯停运", second_handling=second)  # fmt: skip


def _lead(case: Case, outcome: str = "resolved") -> Dispatch:
    return Dispatch(dispatch_id=new_id(), case_id=case.case_id, owner_id="d01-sjj",
                    role=DispatchRole.LEAD, state=DispatchState.RESOLVED, version=4,
                    ruleset_version="r1", outcome=outcome)  # fmt: skip


def _feedback(case: Case, rating: str) -> FeedbackReceived:
    return FeedbackReceived(case_id=case.case_id, channel="hotline", rating=rating,  # type: ignore[arg-type]
                            received_at=NOW)  # fmt: skip


async def test_a_satisfied_rating_closes_the_case_with_the_outcome_the_lead_reported(
    deps: RouterDeps,
) -> None:
    case = _waiting_case()
    event = _feedback(case, "satisfied")
    uow = FakeUnit(deps, NOW, event, cases=[case], dispatches=[_lead(case, "explained")])
    await on_feedback_received(uow, event)
    await uow.commit()
    assert uow.memory_cases.written[case.case_id] == {
        "state": "closed", "version": 8, "close_kind": "explained"
    }  # fmt: skip
    assert uow.fake.timeline() == ["closed"]
    assert uow.fake.events == [CaseClosed(case_id=case.case_id, kind="explained",
                                          rating="satisfied", lead_owner_id="d01-sjj")]  # fmt: skip


async def test_unsatisfied_reopens_for_a_second_handling_led_by_the_community(
    deps: RouterDeps,
) -> None:
    case = _waiting_case()
    event = _feedback(case, "unsatisfied")
    uow = FakeUnit(deps, NOW, event, cases=[case], dispatches=[_lead(case)])
    await on_feedback_received(uow, event)
    await uow.commit()
    written = uow.memory_cases.written[case.case_id]
    assert written == {"state": "dispatched", "version": 9, "second_handling": True}
    reopened, dispatched = uow.fake.events
    assert isinstance(reopened, CaseReopened) and isinstance(dispatched, CaseDispatched)
    assert reopened.previous_lead_owner_id == "d01-sjj"
    assert reopened.lead_owner_id != "d01-sjj" and reopened.co_handler_ids == ["d01-sjj"]
    assert [d.owner_id for d in dispatched.dispatches] == [reopened.lead_owner_id, "d01-sjj"]
    assert uow.fake.timeline() == ["reopened", "dispatched"]


async def test_unsatisfied_after_a_second_handling_closes_explained(deps: RouterDeps) -> None:
    case = _waiting_case(second=True)
    event = _feedback(case, "unsatisfied")
    uow = FakeUnit(deps, NOW, event, cases=[case], dispatches=[_lead(case)])
    await on_feedback_received(uow, event)
    await uow.commit()
    assert uow.memory_cases.written[case.case_id]["close_kind"] == "explained"


async def test_feedback_for_a_case_not_stored_yet_is_retried(deps: RouterDeps) -> None:
    case = _waiting_case()
    event = _feedback(case, "satisfied")
    with pytest.raises(RetryLater):
        await on_feedback_received(FakeUnit(deps, NOW, event), event)


async def test_an_approved_extension_moves_the_deadline_and_says_so(deps: RouterDeps) -> None:
    case = _waiting_case()
    lead = _lead(case)
    lead.state = DispatchState.IN_PROGRESS
    due = NOW + timedelta(days=5)
    event = ExtensionDecided(case_id=case.case_id, dispatch_id=lead.dispatch_id,
                             owner_id=lead.owner_id, approved=True, working_days=3,
                             resolve_due_at=due, decided_by="key:sup", reason="同意")  # fmt: skip
    uow = FakeUnit(deps, NOW, event, dispatches=[lead])
    await on_extension_decided(uow, event)
    await uow.commit()
    assert uow.memory_dispatches.written[lead.dispatch_id] == {
        "state": "in_progress", "version": 5, "resolve_due_at": due
    }  # fmt: skip
    [(table, row)] = uow.fake.rows
    assert (table, row["action"], row["actor"], row["from_state"]) == (
        "timeline",
        "extension_decided",
        "key:sup",
        None,
    )
