"""``case.received`` on an in-memory unit of work: what the router makes of a new case.

The handler reads as the case's story (received, then classified and dispatched or
disputed, or held for a dispatcher); the unit writes the new case once, in the state it
reached, with the version its moves give it. The real-stack paths are
tests/integration/test_router_batch.py and tests/e2e/test_triage.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.router.deps import RouterDeps
from services.router.handlers.case_received import on_case_received
from shared.contracts.events import (
    CaseDispatched,
    CaseDisputed,
    CaseHeldForTriage,
    CaseReceived,
    LocationData,
    TriageInfo,
)
from shared.domain.case import Case
from shared.domain.lifecycle import CaseState
from shared.ids import new_id
from shared.settings import Settings
from tests.support.fake_router_unit import FakeUnit

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday, office hours
XINGFU = LocationData(district="d01", street="s01", community="c01", grid="g01", compound="k01")


@pytest.fixture(scope="module")
def deps() -> RouterDeps:
    return RouterDeps.load(Settings())


def _received(category: str = "property.elevator", **extra: object) -> CaseReceived:
    return CaseReceived(
        case_id=new_id(), channel="hotline_12345", category=category, title="电梯停运",
        description="3号楼电梯停了一天。", location=XINGFU, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


async def _handle(deps: RouterDeps, event: CaseReceived, stored: list[Case] = ()) -> FakeUnit:  # type: ignore[assignment]
    unit = FakeUnit(deps, NOW, event, cases=list(stored))
    await on_case_received(unit, event)
    await unit.commit()
    return unit


async def test_a_coded_case_is_stored_once_dispatched_with_its_story_and_deadline(
    deps: RouterDeps,
) -> None:
    event = _received()
    unit = await _handle(deps, event)

    row = unit.memory_cases.written[event.case_id]
    assert row["inserted"], "a new case is one insert, not an insert and an update"
    assert (row["state"], row["version"]) == (CaseState.DISPATCHED.value, 2)
    assert row["category"] == "property.elevator" and row["area_path"]
    assert unit.fake.timeline() == ["received", "triaged", "dispatched"]
    [dispatched] = unit.fake.events
    assert isinstance(dispatched, CaseDispatched) and dispatched.dispatches
    # stored with the row, so the dispatches' trigger has nothing to rewrite
    assert row["next_due_at"] == min(d.acknowledge_due_at for d in dispatched.dispatches)
    tables = [t for t, _ in unit.fake.rows]
    assert tables.count("dispatches") == len(dispatched.dispatches)
    assert tables.count("routing_decisions") == 1


async def test_a_case_already_stored_is_left_as_it_is(deps: RouterDeps) -> None:
    event = _received()
    stored = Case(case_id=event.case_id, state=CaseState.DISPATCHED, version=2)
    unit = await _handle(deps, event, [stored])
    assert unit.memory_cases.written == {}
    assert unit.fake.rows == [] and unit.fake.events == []


async def test_a_free_text_case_triage_was_unsure_of_waits_for_a_dispatcher(
    deps: RouterDeps,
) -> None:
    unsure = TriageInfo(auto=False, reason="模型把握不足（最高 41%）", place_given=True)
    event = _received(triage=unsure)
    unit = await _handle(deps, event)

    row = unit.memory_cases.written[event.case_id]
    assert row["inserted"] and (row["state"], row["version"]) == ("awaiting_triage", 1)
    assert row["next_due_at"] is None
    assert unit.fake.timeline() == ["received", "hold"]
    [held] = unit.fake.events
    assert isinstance(held, CaseHeldForTriage) and held.reason == unsure.reason
    assert [t for t, _ in unit.fake.rows].count("triage_items") == 1
    assert "routing_decisions" not in [t for t, _ in unit.fake.rows]


async def test_a_matter_no_rule_owns_is_disputed_for_the_whistle(deps: RouterDeps) -> None:
    event = _received(category="other.unknown_matter")
    unit = await _handle(deps, event)

    row = unit.memory_cases.written[event.case_id]
    assert row["inserted"] and (row["state"], row["version"]) == ("disputed", 2)
    assert unit.fake.timeline() == ["received", "triaged", "disputed"]
    [disputed] = unit.fake.events
    assert isinstance(disputed, CaseDisputed)
