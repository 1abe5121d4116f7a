"""The rules of intake's record of a case as a channel sees it (shared/domain/intake_status.py):
no I/O, each method records the columns it changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from shared.domain.intake_status import BEHIND_DISPATCHED, IntakeCase, classification
from shared.ids import new_id

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)


def _case(status: str = "received", **kw: object) -> IntakeCase:
    return IntakeCase(new_id(), status, T0, **kw)  # type: ignore[arg-type]


def _dispatch(case: IntakeCase, *owners: str, at: datetime = LATER) -> list[UUID]:
    """One dispatching of ``owners`` (the first leads); their dispatch ids."""
    ids = [new_id() for _ in owners]
    case.dispatched({str(d): o for d, o in zip(ids, owners, strict=True)}, owners[0], at)
    return ids


def test_a_received_case_is_dispatched_with_its_owners_sorted_once_and_its_lead() -> None:
    case = _case()
    _dispatch(case, "wy-b", "wy-a", "wy-b")
    assert (case.status, case.status_at) == ("dispatched", LATER)
    assert case.detail == {"owners": ["wy-a", "wy-b"], "lead": "wy-b"}
    assert set(case.changes) == {"status", "status_at", "status_detail", "holders"}


@pytest.mark.parametrize("status", ["acknowledged", "in_progress", "resolved", "rated", "closed"])
def test_a_late_dispatch_never_moves_the_status_back_but_adds_its_owners(status: str) -> None:
    case = _case(status, detail={"owners": ["wy-a"], "rebound_of": "x"})
    _dispatch(case, "cg-1", "wy-a")
    assert (case.status, case.status_at) == (status, T0)
    assert case.detail == {"owners": ["cg-1", "wy-a"], "rebound_of": "x", "lead": "cg-1"}
    assert "status" not in case.changes


@pytest.mark.parametrize("status", ["resolved", "rated", "closed", "disputed"])
def test_a_late_acknowledgement_never_moves_the_status_back(status: str) -> None:
    case = _case(status)
    case.acknowledged(LATER)
    assert (case.status, case.changes) == (status, {})


def test_an_acknowledgement_moves_a_dispatched_case_forward() -> None:
    case = _case("dispatched")
    case.acknowledged(LATER)
    assert case.changes == {"status": "acknowledged", "status_at": LATER}


def test_only_received_is_behind_dispatched() -> None:
    assert BEHIND_DISPATCHED == ("received",)


def test_an_ended_dispatch_redelivered_does_not_bring_its_owner_back() -> None:
    case = _case()
    lead, co = _dispatch(case, "wy-a", "cg-1")
    case.dispatch_ended(lead, "wy-a")
    assert case.detail == {"owners": ["cg-1"]}  # the lead's dispatch ended: no lead
    assert case.holders == {str(lead): None, str(co): "cg-1"}
    case.dispatched({str(lead): "wy-a"}, "wy-a", LATER)  # the first case.dispatched again
    assert case.detail == {"owners": ["cg-1"]}
    assert case.holders[str(lead)] is None


def test_another_live_dispatch_of_the_same_owner_still_holds_the_case() -> None:
    case = _case()
    (first,) = _dispatch(case, "wy-a")
    _dispatch(case, "wy-a", "cg-1")
    case.dispatch_ended(first, "wy-a")
    assert case.detail == {"owners": ["cg-1", "wy-a"], "lead": "wy-a"}


def test_the_next_dispatching_names_its_lead() -> None:
    case = _case()
    (first,) = _dispatch(case, "wy-a")
    case.dispatch_ended(first, "wy-a")
    _dispatch(case, "wy-b")
    assert case.detail == {"owners": ["wy-b"], "lead": "wy-b"}


def test_a_case_dispatched_before_holders_were_kept_ends_by_owner() -> None:
    case = _case("dispatched", holders={"cg-1": "cg-1", "wy-a": "wy-a"},
                 detail={"owners": ["cg-1", "wy-a"], "lead": "wy-a"})  # fmt: skip
    ended = new_id()
    case.dispatch_ended(ended, "wy-a")
    assert case.holders == {"cg-1": "cg-1", str(ended): None}
    assert case.detail == {"owners": ["cg-1"]}


def test_resolution_moves_the_status_and_keeps_the_result() -> None:
    case = _case("acknowledged", detail={"owners": ["wy-a"]})
    case.resolved("explained", "已解释", "wy-a", LATER)
    assert case.changes == {
        "status": "resolved", "status_at": LATER,
        "status_detail": {"owners": ["wy-a"], "result": {
            "outcome": "explained", "summary": "已解释", "lead_owner_id": "wy-a",
            "at": LATER.isoformat()}},
    }  # fmt: skip


def test_a_late_resolution_keeps_the_status_but_still_keeps_the_result() -> None:
    case = _case("closed", detail={"close_kind": "resolved"})
    case.resolved("resolved", "修好了", "wy-a", LATER)
    assert (case.status, set(case.changes)) == ("closed", {"status_detail"})
    assert case.detail["result"]["summary"] == "修好了"


@pytest.mark.parametrize("status", ["resolved", "rated", "closed", "dispatched"])
def test_a_closure_always_closes_and_keeps_its_kind(status: str) -> None:
    case = _case(status)
    case.closed("explained", LATER)
    assert case.changes == {"status": "closed", "status_at": LATER,
                            "status_detail": {"close_kind": "explained"}}  # fmt: skip


@pytest.mark.parametrize(("status", "after"), [("resolved", "dispatched"), ("rated", "dispatched"),
                                               ("closed", "closed"), ("received", "received")])  # fmt: skip
def test_a_reopening_redispatches_only_a_resolved_or_rated_case(status: str, after: str) -> None:
    case = _case(status)
    case.reopened(LATER)
    assert case.status == after
    assert bool(case.changes) == (status != after)


def test_an_end_heard_again_records_nothing_to_write() -> None:
    ended = new_id()
    case = _case("dispatched", holders={str(ended): None}, detail={"owners": []})
    case.dispatch_ended(ended, "wy-a")
    assert case.changes == {}


def test_a_classification_sets_the_full_path_of_each_level() -> None:
    location = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01",
                "compound": None, "building": None, "unit": None, "source": None}  # fmt: skip
    assert classification("property.elevator", location) == {
        "category": "property.elevator", "location": location,
        "community": "d01.s01.c01", "grid": "d01.s01.c01.g01", "compound": None,
    }  # fmt: skip
