"""Escalation's handlers on an in-memory unit of work: the clocks they arm, re-arm and
stop, and the whistles they blow, in milliseconds.

The real-stack tests (tests/e2e/test_escalation.py, test_escalation_holes.py and
tests/integration/test_deadline_*.py) cover the same paths through PostgreSQL and RabbitMQ.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.escalation.deps import EscalationDeps
from services.escalation.handlers.case_disputed import on_case_disputed
from services.escalation.handlers.deadlines import on_case_dispatched, on_dispatch_acknowledged
from services.escalation.handlers.dispatch_progressed import on_dispatch_progressed
from services.escalation.handlers.triage_queue import on_case_classified, on_case_held_for_triage
from shared.contracts.events import (
    CaseClassified,
    CaseDispatched,
    CaseDisputed,
    CaseHeldForTriage,
    DispatchAcknowledged,
    DispatchInfo,
    DispatchProgressed,
    LocationData,
    WhistleBlown,
    WhistleUnconvened,
)
from shared.ids import new_id
from shared.settings import Settings
from tests.support.fake_escalation_unit import FakeEscalationUnit

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday, 17:00 in Beijing
PLACE = LocationData(district="d01", street="d01.s01", community="d01.s01.c01",
                     grid="d01.s01.c01.g01")  # fmt: skip


@pytest.fixture(scope="module")
def deps() -> EscalationDeps:
    return EscalationDeps.load(Settings())


def _dispatched(*, progress: bool = True) -> CaseDispatched:
    d = DispatchInfo(
        dispatch_id=new_id(), owner_id="d01-s01-jd", owner_name="新华街道", role="lead",
        acknowledge_due_at=NOW + timedelta(hours=4), resolve_due_at=NOW + timedelta(days=8),
        progress_due_at=NOW + timedelta(days=2) if progress else None,
    )  # fmt: skip
    return CaseDispatched(case_id=new_id(), category="property.elevator", title="电梯停运",
                          tier="standard", urgency="normal", rule_id=None, ruleset_version="r1",
                          location=PLACE, dispatches=[d])  # fmt: skip


def _clock(event: CaseDispatched, kind: str, **extra: Any) -> dict[str, Any]:
    d = event.dispatches[0]
    return {"deadline_id": new_id(), "case_id": event.case_id, "dispatch_id": d.dispatch_id,
            "owner_id": d.owner_id, "kind": kind, "due_at": NOW + timedelta(days=2),
            "state": "armed", "created_at": NOW - timedelta(days=1),
            "policy": {"dispatched_at": (NOW - timedelta(days=1)).isoformat(),
                       "reminder_share": 0.75}} | extra  # fmt: skip


async def test_a_dispatch_arms_its_three_clocks_each_with_a_reminder_and_its_policy(
    deps: EscalationDeps,
) -> None:
    event = _dispatched()
    uow = FakeEscalationUnit(deps, NOW, event)
    await on_case_dispatched(uow, event)
    clocks = {r["kind"]: r for r in uow.memory_deadlines.rows}
    assert sorted(clocks) == ["acknowledge", "progress", "resolve"]
    ack = clocks["acknowledge"]
    assert ack["remind_at"] == NOW + timedelta(hours=3)  # three quarters of the way
    assert ack["next_at"] == ack["remind_at"] and ack["state"] == "armed"
    assert ack["policy"]["role"] == "lead" and ack["policy"]["category"] == "property.elevator"
    assert ack["policy"]["dispatched_at"] == NOW.isoformat()
    assert uow.events == []


async def test_a_dispatch_without_a_keep_in_touch_clock_arms_two(deps: EscalationDeps) -> None:
    event = _dispatched(progress=False)
    uow = FakeEscalationUnit(deps, NOW, event)
    await on_case_dispatched(uow, event)
    assert sorted(r["kind"] for r in uow.memory_deadlines.rows) == ["acknowledge", "resolve"]


async def test_an_acknowledgement_stops_only_the_acknowledge_clock(deps: EscalationDeps) -> None:
    dispatched = _dispatched()
    d = dispatched.dispatches[0]
    event = DispatchAcknowledged(case_id=dispatched.case_id, dispatch_id=d.dispatch_id,
                                 owner_id=d.owner_id, acknowledged_at=NOW, actor="k1")  # fmt: skip
    clocks = [_clock(dispatched, k) for k in ("acknowledge", "progress", "resolve")]
    uow = FakeEscalationUnit(deps, NOW, event, clocks=clocks)
    await on_dispatch_acknowledged(uow, event)
    states = {r["kind"]: (r["state"], r["version"]) for r in uow.memory_deadlines.rows}
    assert states == {"acknowledge": ("disarmed", 2), "progress": ("armed", 1),
                      "resolve": ("armed", 1)}  # fmt: skip


async def test_an_acknowledgement_restarts_a_progress_clock_held_for_want_of_it(
    deps: EscalationDeps,
) -> None:
    dispatched = _dispatched()
    d = dispatched.dispatches[0]
    event = DispatchAcknowledged(case_id=dispatched.case_id, dispatch_id=d.dispatch_id,
                                 owner_id=d.owner_id, acknowledged_at=NOW, actor="k1")  # fmt: skip
    held = _clock(dispatched, "progress", state="disarmed")
    held["policy"] = held["policy"] | {"held": "unacknowledged"}
    uow = FakeEscalationUnit(deps, NOW, event, clocks=[held])
    await on_dispatch_acknowledged(uow, event)
    progress = uow.memory_deadlines.of(d.dispatch_id, "progress")
    assert progress is not None and progress["state"] == "armed"
    assert "held" not in progress["policy"] and progress["due_at"] > NOW
    assert progress["policy"]["dispatched_at"] == NOW.isoformat()


async def test_progress_restarts_the_keep_in_touch_clock_and_stops_its_ladder(
    deps: EscalationDeps,
) -> None:
    dispatched = _dispatched()
    d = dispatched.dispatches[0]
    event = DispatchProgressed(case_id=dispatched.case_id, dispatch_id=d.dispatch_id,
                               owner_id=d.owner_id, minutes_spent=30, at=NOW)  # fmt: skip
    clocks = [_clock(dispatched, "progress", state="fired", reminded_at=NOW),
              _clock(dispatched, "escalate.progress")]  # fmt: skip
    uow = FakeEscalationUnit(deps, NOW, event, clocks=clocks)
    await on_dispatch_progressed(uow, event)
    progress = uow.memory_deadlines.of(d.dispatch_id, "progress")
    ladder = uow.memory_deadlines.of(d.dispatch_id, "escalate.progress")
    assert progress is not None and ladder is not None
    assert (progress["state"], progress["reminded_at"], progress["version"]) == ("armed", None, 2)
    assert progress["due_at"] > NOW and progress["next_at"] == progress["remind_at"]
    assert ladder["state"] == "disarmed"


async def test_a_second_hold_for_triage_arms_no_second_clock(deps: EscalationDeps) -> None:
    event = CaseHeldForTriage(case_id=new_id(), desk_owner_id="d01-s01-jd", location=PLACE,
                              due_at=NOW + timedelta(hours=2), reason="地点不明")  # fmt: skip
    uow = FakeEscalationUnit(deps, NOW, event)
    await on_case_held_for_triage(uow, event)
    await on_case_held_for_triage(uow, event)
    [clock] = uow.memory_deadlines.rows
    assert (clock["kind"], clock["owner_id"]) == ("triage", "d01-s01-jd")
    assert clock["policy"]["role"] == "desk"
    classified = CaseClassified(case_id=event.case_id, kind="triage", category="property.elevator",
                                location=PLACE, previous_category="unclassified",
                                previous_location=PLACE, decided_by="k1", reason="")  # fmt: skip
    await on_case_classified(uow, classified)
    assert clock["state"] == "disarmed"


async def test_a_dispute_blows_the_street_offices_whistle_and_arms_report_in_clocks(
    deps: EscalationDeps,
) -> None:
    event = CaseDisputed(case_id=new_id(), category="property.elevator", reason="管辖不明",
                         location=PLACE, owners_involved=["d01-s01-c01-sq", "d01-s01-c01-sq"])  # fmt: skip
    uow = FakeEscalationUnit(deps, NOW, event)
    await on_case_disputed(uow, event)
    [(whistle, convened)] = uow.memory_whistles.added
    assert whistle["blown_by"] == "d01-s01-jd" and convened == ["d01-s01-c01-sq"]
    [clock] = uow.memory_deadlines.rows
    assert clock["kind"] == "report_in" and clock["whistle_id"] == whistle["whistle_id"]
    [blown] = uow.events
    assert isinstance(blown, WhistleBlown) and blown.report_in_due_at == clock["due_at"]


async def test_a_dispute_with_nobody_to_convene_is_not_blown(deps: EscalationDeps) -> None:
    event = CaseDisputed(case_id=new_id(), category="no.default.here", reason="管辖不明",
                         location=PLACE)  # fmt: skip
    uow = FakeEscalationUnit(deps, NOW, event)
    await on_case_disputed(uow, event)
    assert uow.memory_whistles.added == [] and uow.memory_deadlines.rows == []
    [unconvened] = uow.events
    assert isinstance(unconvened, WhistleUnconvened) and unconvened.blown_by == "d01-s01-jd"
