"""KPIs on a hand-made set of five cases in March 2026 (no holidays that month), checked
against values counted by hand in the comments."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shared.domain.calendar import SHANGHAI, WorkingCalendar
from shared.domain.kpis import (
    CaseRow,
    DispatchRow,
    LaterCase,
    Report,
    TimelineRow,
    compute,
    top_share,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=SHANGHAI)


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


CASES = [
    # c1: resolved Mon 09:00 → Wed 09:00 (2 working days), rated satisfied
    CaseRow("c1", "d01.s01", "closed", "property.elevator", t(2, 9), "p1", "resolved"),
    # c2: Fri 09:00 → reopened → last resolution Thu 09:00 (4 working days), explained
    CaseRow("c2", "d01.s01", "closed", "property.elevator", t(6, 9), "p1", "explained"),
    # c3: still in progress, its lead overdue
    CaseRow("c3", "d01.s01", "in_progress", "property.fee", t(9, 9), "p1"),
    # c4: mediated on site within 2 hours, never dispatched
    CaseRow(
        "c4", "d01.s02", "closed", "environment.cooking_fume", t(16, 9), "p2", "mediated_on_site"
    ),
    # c5: anonymous, dispatched, not due yet
    CaseRow("c5", "d01.s02", "dispatched", "animal.stray_dog", t(17, 9)),
]
DISPATCHES = [
    DispatchRow("d1", "c1", "A", "lead", "resolved", t(2, 9, 5), t(9, 9, 5), t(4, 9)),  # on time
    DispatchRow("d2", "c2", "A", "lead", "resolved", t(6, 9), t(13, 9), t(12, 9)),  # on time
    DispatchRow("d3", "c2", "B", "co_handler", "resolved", t(6, 9), t(9, 9), t(10, 9)),  # late
    DispatchRow("d4", "c3", "B", "lead", "in_progress", t(9, 9), t(10, 9)),  # open overdue
    DispatchRow("d5", "c5", "C", "lead", "pending", t(17, 9), t(25, 9)),  # not due
]
TIMELINE = [
    TimelineRow("c1", t(3, 10), "progress", {"minutes_spent": 30}, "d1"),
    TimelineRow("c1", t(4, 9), "resolve"),
    TimelineRow("c1", t(5, 9), "close", {"kind": "resolved", "rating": "satisfied"}),
    TimelineRow("c2", t(9, 10), "progress", {"minutes_spent": 60}, "d3"),
    TimelineRow("c2", t(10, 9), "resolve"),
    TimelineRow("c2", t(11, 9), "reopened", {"rating": "unsatisfied"}),
    TimelineRow("c2", t(12, 9), "resolve"),
    TimelineRow("c2", t(13, 10), "closed", {"kind": "explained", "rating": "unsatisfied"}),
    TimelineRow("c3", t(9, 15), "progress", {"minutes_spent": 45}, "d4"),
    TimelineRow("c3", t(10, 15), "progress", {"minutes_spent": 15}, "d4"),
    TimelineRow("c4", t(16, 11), "close", {"kind": "mediated_on_site"}),
]
LATER = [
    LaterCase("p1", "property.elevator", datetime(2026, 5, 1, tzinfo=SHANGHAI)),  # came back
    LaterCase("p1", "property.elevator", datetime(2026, 12, 1, tzinfo=SHANGHAI)),  # too late
    LaterCase("p2", "property.elevator", datetime(2026, 4, 1, tzinfo=SHANGHAI)),  # other person
]


@pytest.fixture(scope="module")
def report() -> Report:
    calendar = WorkingCalendar.load(ROOT / "config" / "calendar")

    def working_days(a: datetime, b: datetime) -> float:
        return calendar.working_time_between(a, b) / timedelta(days=1)

    return compute(CASES, DISPATCHES, TIMELINE, LATER, now=NOW, working_days=working_days)


def test_totals_match_the_hand_count(report: Report) -> None:
    k = report.total
    assert k.cases == 5
    assert k.by_state == {"closed": 3, "in_progress": 1, "dispatched": 1}
    assert k.handled == 3  # c1, c2, c4
    assert k.avg_handling_working_days == 2.03  # (2 + 4 + 2/24) / 3
    assert (k.ratings, k.satisfied, k.satisfaction_rate) == (3, 1, 0.3333)
    assert (k.rated_cases, k.reopened_cases, k.second_handling_rate) == (2, 1, 0.5)
    assert (k.repeat_cases, k.repeat_rate, k.key_persons) == (2, 0.5, 1)  # p1 ×3, p2 ×1
    assert (k.resolved_on_time, k.resolved_late, k.open_overdue) == (2, 1, 1)
    assert k.on_time_rate == 0.5  # 2 / (3 closed + 1 open overdue)
    assert (k.explained_closures, k.explained_came_back) == (1, 1)
    assert k.top5_share == 0.75  # top 1 of 2 petitioners brought 3 of 4 cases
    assert (k.minutes_spent, k.avg_minutes_per_case) == (150, 30.0)


def test_per_area_splits_the_cases(report: Report) -> None:
    s01, s02 = report.by_area["d01.s01"], report.by_area["d01.s02"]
    assert (s01.cases, s01.avg_handling_working_days, s01.on_time_rate) == (3, 3.0, 0.5)
    assert (s01.repeat_rate, s01.top5_share, s01.avg_minutes_per_case) == (0.6667, 1.0, 50.0)
    assert (s02.cases, s02.avg_handling_working_days, s02.on_time_rate) == (2, 0.08, None)
    assert (s02.satisfaction_rate, s02.minutes_spent, s02.explained_closures) == (None, 0, 0)


def test_per_owner_counts_its_own_dispatches_and_the_ratings_of_cases_it_leads(
    report: Report,
) -> None:
    a, b, c = report.by_owner["A"], report.by_owner["B"], report.by_owner["C"]
    assert (a.cases, a.avg_handling_working_days, a.on_time_rate) == (2, 3.0, 1.0)
    assert (a.ratings, a.satisfied, a.explained_closures, a.minutes_spent) == (3, 1, 1, 30)
    assert (b.cases, b.avg_handling_working_days, b.on_time_rate) == (2, 2.0, 0.0)
    assert (b.ratings, b.minutes_spent, b.avg_minutes_per_case) == (0, 120, 60.0)
    assert (c.cases, c.on_time_rate, c.open_overdue) == (1, None, 0)


def test_cases_per_day_are_local_dates(report: Report) -> None:
    assert [(d.day, n) for d, n in report.cases_per_day.items()] == [
        (2, 1), (6, 1), (9, 1), (16, 1), (17, 1)
    ]  # fmt: skip


def test_top_share_takes_at_least_one_petitioner_and_ranks_by_count() -> None:
    assert top_share({}) is None
    counts = {f"p{i}": 1 for i in range(19)} | {"heavy": 21}  # 20 people, 40 cases
    assert top_share(counts) == 0.525  # 5 % of 20 = 1 person, 21 of 40 cases


def test_kpis_are_also_given_week_by_week_for_the_trend_chart() -> None:
    from datetime import UTC, datetime, timedelta

    from shared.domain.kpis import CaseRow, compute

    monday = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday
    cases = [
        CaseRow("a", "d01", "dispatched", "property.elevator", monday),
        CaseRow("b", "d01", "dispatched", "property.elevator", monday + timedelta(days=2)),
        CaseRow("c", "d01", "dispatched", "property.elevator", monday + timedelta(days=7)),
    ]
    report = compute(cases, [], [], now=monday + timedelta(days=10), working_days=lambda a, b: 0.0)
    assert {w.isoformat(): k.cases for w, k in report.by_week.items()} == {
        "2026-03-02": 2,
        "2026-03-09": 1,
    }
