"""Issue 22: which urgencies quiet hours hold, emergency minutes at every level, report-in
deadlines in office hours, and the office-hours rule itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.escalation.policy import EscalationPolicy, delay_of, quiet_holds
from shared.domain.calendar import SHANGHAI, WorkingCalendar
from shared.domain.office_hours import OfficeHours

CALENDAR = WorkingCalendar.load(Path(__file__).resolve().parents[2] / "config" / "calendar")


def _sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def test_quiet_hours_hold_urgent_and_normal_reminders_but_never_an_emergency() -> None:
    policy = EscalationPolicy()
    assert quiet_holds(policy.frozen("normal")) and quiet_holds(policy.frozen("urgent"))
    assert not quiet_holds(policy.frozen("emergency"))


def test_an_emergency_climbs_every_level_on_clock_minutes() -> None:
    frozen = EscalationPolicy().frozen("emergency")
    for level in ("community", "street_office", "district_petition_bureau", "city_petition_bureau"):
        assert delay_of(frozen, level).unit == "minutes", level
    assert delay_of(EscalationPolicy().frozen("normal"), "district_petition_bureau").unit == (
        "working_days"
    )


def test_a_4h_report_in_set_at_1837_falls_in_the_next_morning_office_hours() -> None:
    monday = _sh(2026, 12, 7, 18, 37)
    due = EscalationPolicy().report_in_due(CALENDAR, monday, "normal")
    assert due == _sh(2026, 12, 8, 14, 30).astimezone(UTC)  # 09-12 (3 h), 13:30-14:30


def test_a_report_in_on_friday_evening_counts_from_monday_morning() -> None:
    friday = _sh(2026, 12, 11, 17, 45)  # 15 minutes left on Friday
    due = EscalationPolicy().report_in_due(CALENDAR, friday, "urgent")
    assert due == _sh(2026, 12, 14, 9, 15).astimezone(UTC)


def test_an_emergency_report_in_runs_on_the_wall_clock() -> None:
    night = _sh(2026, 12, 7, 22, 54)
    assert EscalationPolicy().report_in_due(CALENDAR, night, "emergency") == night + timedelta(
        minutes=30
    )


def test_office_hours_are_data_one_window_or_two() -> None:
    one = OfficeHours.parse("09:00-18:00")
    start = _sh(2026, 12, 7, 17, 0)
    assert one.add(CALENDAR, start, timedelta(hours=2)) == _sh(2026, 12, 8, 10, 0).astimezone(UTC)
    for bad in ("9-18", "12:00-09:00", "09:00-12:00,11:00-14:00"):
        with pytest.raises(ValueError, match="办公时间"):
            OfficeHours.parse(bad)
    with pytest.raises(ValueError):
        EscalationPolicy(office_hours="nonsense")
