"""Issue 23 (part B): the pure arithmetic of prevention work and of the plan's targets,
each checked against a count made by hand in the comments."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from shared.domain.calendar import SHANGHAI
from shared.domain.errors import ConfigError
from shared.domain.kpis import CaseRow, DispatchRow, compute, key_person_repeats
from shared.domain.prevention import (
    CaseFact,
    PatrolFact,
    RiskFact,
    campaigns_due,
    coverage,
    coverage_rate,
    root_settlement,
    tally,
)
from shared.domain.targets import (
    Bound,
    OpenSpan,
    Targets,
    backlog_at,
    conversion_rate,
    judge,
    plan_goals,
)

ROOT = Path(__file__).resolve().parents[2]
D = date(2026, 3, 2)
G1, G2 = "d01.s01.c01.g01", "d01.s01.c01.g02"


def t(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=SHANGHAI)


def test_on_site_mediations_count_once_whichever_way_they_were_recorded() -> None:
    patrols = [
        PatrolFact(G1, D, "w1", 10, 60, ("property.repair", None), mediations=1),
        PatrolFact(G2, D, "w2", 5, 30, (), mediations=0),  # its mediation named a case
    ]
    risks = [RiskFact(G1, D, "resolved"), RiskFact(G1, D, "open"), RiskFact(G2, D, "case")]
    cases = [
        CaseFact(G2, D, "grid_patrol", "mediated_on_site"),
        CaseFact(G1, D, "wechat"),
        CaseFact(G1, D, "grid_patrol", from_risk=True),  # the risk's case: counted as the risk
        CaseFact(G1, D, "early_warning"),  # repeats cases already counted
    ]
    got = tally(patrols, risks, cases)
    # mediations 1 + 1; settled 2 + 1 resolved risk = 3; matters 3 + 1 case-risk + 1 open + 1
    assert (got.mediated_on_site, got.petitions) == (2, 1)
    assert (got.settled_at_root, got.matters, got.root_settlement_rate) == (3, 6, 0.5)
    assert (got.households_visited, got.minutes, got.workers, got.findings) == (15, 90, 2, 2)
    assert got.findings_by_category == {"property.repair": 1, "uncategorized": 1}


def test_root_settlement_of_nothing_is_no_data() -> None:
    assert root_settlement(
        mediated_on_site=0, risks_resolved=0, risks_to_case=0, risks_open=0, petitions=0
    ) == (0, 0, None)


def test_coverage_caps_each_area_at_its_households_and_counts_only_the_period() -> None:
    visits = [
        PatrolFact(G1, D, "w1", 40),
        PatrolFact(G1 + ".k01", D + timedelta(days=1), "w1", 30),  # a compound of the grid
        PatrolFact(G1, D - timedelta(days=1), "w1", 99),  # before the campaign
        PatrolFact(G2, D, "w2", 70),
    ]
    areas = coverage([(G1, 100), (G2, 50)], visits, D, D + timedelta(days=30))
    assert [(a.visited, a.covered) for a in areas] == [(70, 70), (70, 50)]
    assert coverage_rate(areas) == (120, 150, 0.8)


@pytest.mark.parametrize(
    ("on", "due"), [(date(2026, 1, 5), 1), (date(2026, 6, 30), 2), (date(2026, 12, 31), 4)]
)
def test_four_campaigns_a_year_means_one_by_the_end_of_each_quarter(on: date, due: int) -> None:
    assert campaigns_due(4, on) == due


def test_three_rates_by_tier_channel_category_and_owner() -> None:
    cases = [
        CaseRow("a", "x", "closed", "property.fee", t(2), "p1", "resolved", "simple", "wechat"),
        CaseRow("b", "x", "closed", "property.fee", t(3), "p2", "explained", "complex", "wechat"),
        CaseRow("c", "x", "in_progress", "public.streetlight", t(4), None, None, "simple",
                "hotline_12345"),
    ]  # fmt: skip
    dispatches = [  # acknowledged on time, late, and one never acknowledged past its due time
        DispatchRow("da", "a", "o1", "lead", "resolved", t(2), t(9), t(3), t(3), t(2, 10)),
        DispatchRow("db", "b", "o1", "lead", "resolved", t(3), t(9), t(4), t(4), t(5)),
        DispatchRow("dc", "c", "o2", "lead", "pending", t(4), t(19), None, t(5)),
    ]
    r = compute(cases, dispatches, [], now=t(10), working_days=lambda a, b: 1.0)
    assert (r.total.acknowledged_on_time, r.total.acknowledged_late) == (1, 1)
    assert r.total.unacknowledged_overdue == 1 and r.total.response_rate == 0.3333
    assert (r.total.closed_resolved, r.total.closed_cases, r.total.resolution_rate) == (1, 2, 0.5)
    assert r.by_tier["simple"].response_rate == 0.5 and r.by_tier["complex"].response_rate == 0.0
    assert r.by_channel["hotline_12345"].response_rate == 0.0
    assert r.by_category["property.fee"].resolution_rate == 0.5
    assert r.by_owner["o1"].response_rate == 0.5 and r.by_owner["o2"].response_rate == 0.0


def test_a_key_persons_repeats_are_their_flagged_cases_after_the_first() -> None:
    cases = [
        CaseRow("1", "x", "closed", "c", t(2), "kp", key_person=False),
        CaseRow("2", "x", "closed", "c", t(3), "kp", key_person=True),
        CaseRow("3", "x", "closed", "c", t(4), "kp", key_person=True),
        CaseRow("4", "x", "closed", "c", t(5), "p2"),
        CaseRow("5", "x", "closed", "c", t(6), None),  # unknown petitioner: not counted
    ]
    assert key_person_repeats(cases) == (2, 0.5)  # 2 of the 4 with a known petitioner


def test_the_backlog_at_an_instant_counts_cases_holding_an_overdue_open_dispatch() -> None:
    spans = [
        OpenSpan("a", t(1), t(3), None),  # overdue from the 3rd, still open
        OpenSpan("b", t(1), t(3), t(5)),  # overdue from the 3rd, resolved on the 5th
        OpenSpan("c", t(1), t(8), None),  # not due until the 8th
        OpenSpan("d", t(1), t(2), None),  # overdue, but the case closed on the 4th
    ]
    closed = {"a": None, "b": None, "c": None, "d": t(4)}
    assert backlog_at(spans, closed, t(4, 12)) == 2  # a, b (d closed at 09:00 on the 4th)
    assert backlog_at(spans, closed, t(9)) == 2  # a, c


def test_targets_are_judged_met_missed_or_no_data() -> None:
    assert judge("satisfaction_rate", Bound(min=0.9), 0.92).met is True
    assert judge("avg_handling_working_days", Bound(max=7), 7.5).met is False
    halved = judge("key_person_repeat_rate", Bound(of_last_year=0.5), 0.05, last_year=0.12)
    assert halved.met is True and halved.target == "≤ 去年同期 × 0.5（≤ 6%）"
    assert judge("key_person_repeat_rate", Bound(of_last_year=0.5), 0.05).met is None
    paced = judge("campaigns_per_year", Bound(min=4), 1, due=2)
    assert paced.met is False and "截至期末应 2" in paced.target
    assert judge("root_settlement_rate", Bound(min=0.8), None).note == "无数据 (no data)"
    assert conversion_rate(4, 12) == 0.3333 and conversion_rate(0, 0) is None


def test_the_targets_file_is_checked_and_notes_say_why_a_value_is_missing() -> None:
    targets = Targets.load(ROOT / "config" / "targets.yaml")
    goals = plan_goals(targets, {"satisfaction_rate": 0.95}, notes={"root_settlement_rate": "x"})
    assert goals["satisfaction_rate"].met is True and goals["satisfaction_rate"].target == "≥ 90%"
    assert goals["root_settlement_rate"].note == "x" and len(goals) == 9
    with pytest.raises(ConfigError, match="exactly one"):
        Targets.from_text("targets:\n  response_rate: {min: 0.9, max: 1}\n")
    with pytest.raises(ConfigError):
        Targets.from_text("targets:\n  no_such_target: {min: 1}\n")
