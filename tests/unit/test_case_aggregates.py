"""The Case and Dispatch aggregates: transitions, versions, and what they record (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from shared.contracts.events import CaseClosed, CaseReopened, CaseResolved, DispatchCancelled
from shared.domain.case import Case, second_handling_plan
from shared.domain.dispatch import Dispatch
from shared.domain.errors import InvalidTransition
from shared.domain.journal import Emitted, Entry, Recorded
from shared.domain.lifecycle import CaseState, DispatchRole, DispatchState
from shared.domain.taxonomy import CloseKind, Rating, ReturnReason
from shared.ids import new_id

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _case(state: CaseState, *, second: bool = False) -> Case:
    return Case(case_id=new_id(), state=state, version=3, ruleset_version="r1",
                second_handling=second)  # fmt: skip


def _dispatch(state: DispatchState, **kw: object) -> Dispatch:
    return Dispatch(dispatch_id=new_id(), case_id=new_id(), owner_id="d01-cgw",
                    role=DispatchRole.LEAD, state=state, version=1, ruleset_version="r1",
                    **kw)  # type: ignore[arg-type]  # fmt: skip


def _entries(journal: Sequence[Recorded]) -> list[Entry]:
    return [r for r in journal if isinstance(r, Entry)]


def _events(journal: Sequence[Recorded]) -> list[object]:
    return [r.payload for r in journal if isinstance(r, Emitted)]


def test_a_satisfied_rating_closes_with_the_leads_outcome_and_records_it() -> None:
    case = _case(CaseState.AWAITING_FEEDBACK)
    kind = case.close_kind(Rating.SATISFIED, CloseKind.EXPLAINED)
    assert kind is CloseKind.EXPLAINED
    case.close_rated(Rating.SATISFIED, kind, NOW, actor="channel:hotline", lead="d01-cgw")
    assert (case.state, case.version, case.changes.moves) == (CaseState.CLOSED, 4, 1)
    assert case.changes.values == {"close_kind": "explained"}
    [entry] = _entries(case.journal)
    assert (entry.action, entry.from_state, entry.to_state) == (
        "closed",
        "awaiting_feedback",
        "closed",
    )
    assert entry.detail == {"rating": "satisfied", "kind": "explained", "second_handling": False}
    [event] = _events(case.journal)
    assert event == CaseClosed(case_id=case.case_id, kind="explained", rating="satisfied",
                               lead_owner_id="d01-cgw")  # fmt: skip


def test_unsatisfied_reopens_once_then_only_closes_explained() -> None:
    case = _case(CaseState.AWAITING_FEEDBACK)
    assert case.close_kind(Rating.UNSATISFIED, CloseKind.RESOLVED) is None
    plan = second_handling_plan(secretary="c01-sec", previous_lead="d01-cgw", routed_lead="x")
    case.reopen(plan, NOW, actor="channel:hotline")
    assert case.state is CaseState.REOPENED and case.second_handling
    assert case.changes.values == {"second_handling": True}
    assert isinstance(_events(case.journal)[0], CaseReopened)
    again = _case(CaseState.AWAITING_FEEDBACK, second=True)
    assert again.close_kind(Rating.UNSATISFIED, CloseKind.RESOLVED) is CloseKind.EXPLAINED


def test_an_unsatisfied_close_without_a_second_handling_is_refused() -> None:
    case = _case(CaseState.AWAITING_FEEDBACK)
    with pytest.raises(InvalidTransition):
        case.close(CloseKind.EXPLAINED, NOW, actor="x", reason="y", rating=Rating.UNSATISFIED)
    assert (case.state, case.version, case.journal) == (CaseState.AWAITING_FEEDBACK, 3, [])


def test_the_community_secretary_leads_a_second_handling_with_the_first_lead_helping() -> None:
    plan = second_handling_plan(secretary="c01-sec", previous_lead="d01-cgw", routed_lead="r")
    assert (plan.lead, plan.co_handlers, plan.previous_lead) == ("c01-sec", ["d01-cgw"], "d01-cgw")
    alone = second_handling_plan(secretary=None, previous_lead="d01-cgw", routed_lead="r")
    assert (alone.lead, alone.co_handlers) == ("d01-cgw", [])
    unled = second_handling_plan(secretary="c01-sec", previous_lead=None, routed_lead="r")
    assert (unled.lead, unled.co_handlers, unled.previous_lead) == ("c01-sec", ["r"], "r")


def test_resolving_the_case_waits_for_feedback_in_two_moves() -> None:
    case = _case(CaseState.IN_PROGRESS)
    case.resolve([("lead", "resolved")], NOW, actor="k", outcome="resolved", summary="s",
                 lead_owner_id="d01-cgw", reason="主办单位办结")  # fmt: skip
    assert (case.state, case.version, case.changes.moves) == (CaseState.AWAITING_FEEDBACK, 5, 2)
    assert [e.action for e in _entries(case.journal)] == ["resolve", "request_feedback"]
    assert isinstance(_events(case.journal)[0], CaseResolved)


def test_a_case_in_hand_keeps_its_state_when_dispatched_again() -> None:
    case = _case(CaseState.IN_PROGRESS)
    case.dispatch(NOW, reason="派单：x", rule_version="r2")
    assert (case.state, case.changes.moves) == (CaseState.IN_PROGRESS, 0)
    [entry] = _entries(case.journal)
    assert (entry.action, entry.from_state, entry.to_state, entry.rule_version) == (
        "dispatched",
        "in_progress",
        "in_progress",
        "r2",
    )
    reopened = _case(CaseState.REOPENED)
    reopened.dispatch(NOW, reason="派单：y", rule_version=None)
    assert (reopened.state, reopened.version) == (CaseState.DISPATCHED, 4)


def test_aggregates_sharing_a_journal_keep_the_order_things_happened_in() -> None:
    journal: list[Recorded] = []
    case = _case(CaseState.DISPATCHED)
    lead = _dispatch(DispatchState.ACKNOWLEDGED)
    case.journal = lead.journal = journal
    lead.report_progress(NOW, actor="k", note="在办", detail={"minutes_spent": 5})
    case.start_progress(NOW, actor="k", reason="开始办理")
    assert [e.action for e in _entries(journal)] == ["progress", "start_progress"]


def test_a_dispatch_acknowledged_records_the_time_and_its_event() -> None:
    d = _dispatch(DispatchState.PENDING)
    d.acknowledge(NOW, actor="key:1", reason="已签收")
    assert (d.state, d.version, d.acknowledged_at) == (DispatchState.ACKNOWLEDGED, 2, NOW)
    assert d.changes.values == {"acknowledged_at": NOW}
    with pytest.raises(InvalidTransition, match="已签收"):
        d.acknowledge(NOW, actor="key:1", reason="again")


def test_resolving_a_dispatch_keeps_its_outcome_on_the_dispatch() -> None:
    d = _dispatch(DispatchState.IN_PROGRESS, acknowledged_at=NOW - timedelta(hours=1))
    d.resolve("explained", NOW, actor="k", reason="解释结案：x", detail={"outcome": "explained"})
    assert d.outcome == "explained"
    assert d.changes.values == {"resolved_at": NOW, "acknowledged_at": NOW - timedelta(hours=1),
                                "outcome": "explained"}  # fmt: skip


def test_a_designated_lead_cannot_return_the_case() -> None:
    d = _dispatch(DispatchState.PENDING, policy={"designated_by": "d01-gov"})
    with pytest.raises(InvalidTransition, match="申请复核"):
        d.return_(ReturnReason.WRONG_LOCATION, NOW, actor="k", reason="x")
    d.request_reconsideration({"state": "pending"}, NOW, actor="k", reason="请复核")
    assert d.policy["reconsideration"] == {"state": "pending"}


def test_cancel_and_extend() -> None:
    d = _dispatch(DispatchState.EXPIRED)
    d.cancel(NOW, reason="改派", owner_name="城管委")
    assert d.state is DispatchState.CANCELLED
    assert isinstance(_events(d.journal)[0], DispatchCancelled)
    e = _dispatch(DispatchState.ACKNOWLEDGED)
    e.extend(NOW + timedelta(days=3))
    assert (e.changes.pending, e.changes.moves, e.resolve_due_at) == (
        True,
        0,
        NOW + timedelta(days=3),
    )
