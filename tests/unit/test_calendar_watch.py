"""A deadline in a year the calendar does not cover warns and counts, so ops can see it."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.calendar_watch import UNCOVERED, load_calendar
from shared.settings import ROOT


def test_a_year_without_holiday_data_is_counted_in_a_metric() -> None:
    calendar = load_calendar(ROOT / "config" / "calendar")
    before = UNCOVERED.labels("2031")._value.get()
    due = calendar.add_working_days(datetime(2031, 3, 7, 8, 0, tzinfo=UTC), 1)
    assert due.weekday() < 5
    assert UNCOVERED.labels("2031")._value.get() == before + 1
