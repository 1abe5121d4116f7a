"""The ladder (督办) and reminder (催办) rules: pure, on the shipped sample city."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from services.escalation.backlog import holder_of
from services.escalation.ladder import (
    first_rung,
    ladder_of,
    may_decide,
    next_reachable,
    remind_at,
    rungs_above,
    start_for,
    whistle_blower,
)
from services.escalation.policy import EscalationPolicy, delay_of, quiet_of
from services.escalation.report_in import above_blower
from shared.domain.owners import OwnerDirectory, OwnerKind
from shared.domain.taxonomy import Location

OWNERS = Path(__file__).resolve().parents[2] / "config" / "owners.yaml"
XINGFU = Location(district="d01", street="s01", community="c01", grid="g01", compound="k01")
NO_COMMUNITY = Location(district="d01", street="s01")


@pytest.fixture(scope="module")
def owners() -> OwnerDirectory:
    return OwnerDirectory.load(OWNERS)


def _ids(rungs: list) -> list[str | None]:  # type: ignore[type-arg]
    return [r.owner.id if r.owner else None for r in rungs]


def test_a_community_dispatch_climbs_street_then_district_then_city(
    owners: OwnerDirectory,
) -> None:
    rungs = rungs_above(owners, "d01-s01-c01-sq", XINGFU)
    assert _ids(rungs) == ["d01-s01-jd", "d01-xfb", "city-xfj"]


WHOLE = ["d01-s01-c01-sq", "d01-s01-jd", "d01-xfb", "city-xfj"]


@pytest.mark.parametrize(
    "owner", ["wy-xingfu", "wb-anda", "d01-s01-zfd", "d01-sthj", "d01-zjw", "d01-s01-pcs"]
)
def test_every_owner_kind_starts_at_the_office_of_the_case_own_area(
    owners: OwnerDirectory, owner: str
) -> None:
    """Issue 22 point 3: a property firm's overdue clock is first the community's and the
    street's business, not straight the district's (was: the owner's own parent chain)."""
    assert _ids(rungs_above(owners, owner, XINGFU)) == WHOLE


def test_one_case_climbs_once_from_above_every_overdue_owner(owners: OwnerDirectory) -> None:
    assert first_rung(owners, "wy-xingfu") == 0
    assert first_rung(owners, "d01-s01-c01-sq") == 1
    assert first_rung(owners, "d01-s01-jd") == 2
    assert start_for(owners, ["d01-s01-sfs", "d01-s01-c01-sq"]) == 1
    assert start_for(owners, []) == 0


def test_an_unknown_owner_gets_the_whole_ladder_of_the_place(owners: OwnerDirectory) -> None:
    rungs = rungs_above(owners, "nobody", XINGFU)
    assert _ids(rungs) == ["d01-s01-c01-sq", "d01-s01-jd", "d01-xfb", "city-xfj"]


def test_a_rung_nobody_serves_is_skipped_with_a_reason(owners: OwnerDirectory) -> None:
    rungs = rungs_above(owners, "nobody", NO_COMMUNITY)
    assert rungs[0].kind is OwnerKind.COMMUNITY and rungs[0].owner is None
    step = next_reachable(rungs, 0)
    assert step.owner is not None and step.owner.id == "d01-s01-jd"
    assert step.index == 1
    assert len(step.skipped) == 1 and "跳过" in step.skipped[0]


def test_an_unreachable_owner_is_skipped_not_stalled(owners: OwnerDirectory) -> None:
    rungs = rungs_above(owners, "d01-s01-c01-sq", XINGFU)
    step = next_reachable(rungs, 0, unreachable=frozenset({"d01-s01-jd"}))
    assert step.owner is not None and step.owner.id == "d01-xfb"
    assert "无法联系" in step.skipped[0]


def test_past_the_top_of_the_ladder_there_is_nobody_left(owners: OwnerDirectory) -> None:
    rungs = rungs_above(owners, "d01-s01-c01-sq", XINGFU)
    step = next_reachable(rungs, len(rungs))
    assert step.owner is None and step.skipped == []


def test_the_reminder_goes_at_the_configured_share_of_the_clock() -> None:
    start = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert remind_at(start, start + timedelta(hours=8), 0.75) == start + timedelta(hours=6)
    assert remind_at(start, start, 0.75) is None


def test_the_frozen_policy_round_trips_quiet_hours_and_level_delays() -> None:
    policy = EscalationPolicy(quiet_start=time(22, 0), level_delays={"street_office": "3wd"})
    frozen = policy.frozen()
    quiet = quiet_of(frozen)
    assert (quiet.start, quiet.end) == (time(22, 0), time(8, 0))
    assert str(delay_of(frozen, "street_office")) == "3wd"
    assert str(delay_of(frozen, "city_petition_bureau")) == "3wd"  # default for a missing level


def test_a_reminder_due_in_quiet_hours_is_held_until_they_end() -> None:
    quiet = quiet_of(EscalationPolicy().frozen())
    late_evening = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    assert quiet.contains(late_evening)
    assert quiet.next_allowed(late_evening) == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def test_the_street_office_of_the_place_blows_the_whistle(owners: OwnerDirectory) -> None:
    blower = whistle_blower(owners, XINGFU)
    assert blower is not None and blower.id == "d01-s01-jd"
    district_only = whistle_blower(owners, Location(district="d01"))
    assert district_only is not None and district_only.id == "d01-xfb"


def test_only_the_blowing_office_or_its_superiors_decide(owners: OwnerDirectory) -> None:
    assert may_decide(owners, "d01-s01-jd", "d01-s01-jd")
    assert may_decide(owners, "d01-xfb", "d01-s01-jd")
    assert not may_decide(owners, "d01-s02-jd", "d01-s01-jd")
    assert not may_decide(owners, None, "d01-s01-jd")


def test_a_report_in_miss_goes_to_the_level_above_the_whistle_blower(
    owners: OwnerDirectory,
) -> None:
    """Issue 22 point 6 (was: the parent of the unit that missed, the blower itself)."""
    deps = SimpleNamespace(owners=owners, policy=EscalationPolicy())
    above = above_blower(deps, "d01-s01-jd", XINGFU)
    assert above is not None and above.id == "d01-xfb"
    gone = SimpleNamespace(owners=owners, policy=EscalationPolicy(unreachable=["d01-xfb"]))
    top = above_blower(gone, "d01-s01-jd", XINGFU)
    assert top is not None and top.id == "city-xfj"


def test_past_the_city_the_top_office_of_the_place_holds_the_backlog(
    owners: OwnerDirectory,
) -> None:
    """Issue 22 point 5."""
    top = holder_of(ladder_of(owners, XINGFU))
    assert top is not None and top.owner is not None and top.owner.id == "city-xfj"
